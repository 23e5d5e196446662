// Log in and sign up.

import { h, icon } from "../dom.js";
import { login, session, signup } from "../session.js";
import { toast } from "../toast.js";
import { setTitle } from "./common.js";

function safeNext(query) {
  const next = query.get("next") || "/";
  // Only paths on this site: "//evil.example" would be another origin.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function field({ name, label, type = "text", autocomplete, hint = null, ...rest }) {
  const id = `field-${name}`;
  const input = h("input", { id, name, type, autocomplete, class: "input", "aria-describedby": `${id}-msg`, ...rest });
  const message = h("p", { class: "field-msg", id: `${id}-msg` }, hint || "");
  message.dataset.hint = hint || "";
  let control = input;
  if (type === "password") {
    const toggle = h("button", { type: "button", class: "icon-btn input-toggle", "aria-label": "Show password" },
      icon("eye", { size: 20 }));
    toggle.addEventListener("click", () => {
      const showing = input.type === "text";
      input.type = showing ? "password" : "text";
      toggle.setAttribute("aria-label", showing ? "Show password" : "Hide password");
    });
    control = h("div", { class: "input-wrap" }, input, toggle);
  }
  const wrap = h("div", { class: "field" }, h("label", { for: id, class: "label" }, label), control, message);
  wrap.input = input;
  wrap.message = message;
  return wrap;
}

function setFieldError(fields, name, text) {
  for (const [key, f] of Object.entries(fields)) {
    const bad = key === name && text;
    f.classList.toggle("invalid", !!bad);
    f.input.setAttribute("aria-invalid", bad ? "true" : "false");
    f.message.textContent = bad ? text : f.message.dataset.hint;
  }
}

export async function render({ root, options, query, navigate }) {
  const mode = options.mode === "signup" ? "signup" : "login";
  const next = safeNext(query);
  setTitle(mode === "signup" ? "Sign up" : "Log in");
  if (session.user) {
    navigate(next, { replace: true });
    return null;
  }
  const today = new Date().toISOString().slice(0, 10);
  const fields = mode === "signup" ? {
    username: field({ name: "username", label: "Username", autocomplete: "username", required: true, minlength: "3",
      maxlength: "32", pattern: "[a-z0-9_.]{3,32}", autocapitalize: "none", spellcheck: "false",
      hint: "3–32 characters: a–z, 0–9, _ and ." }),
    display_name: field({ name: "display_name", label: "Display name", autocomplete: "nickname", maxlength: "64",
      hint: "Shown on your profile and videos" }),
    birth_date: field({ name: "birth_date", label: "Birth date", type: "date", autocomplete: "bday", required: true,
      max: today, hint: "Not shown publicly; it keeps feeds age-appropriate" }),
    password: field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", required: true,
      minlength: "8", hint: "At least 8 characters" }),
  } : {
    username: field({ name: "username", label: "Username", autocomplete: "username", required: true,
      autocapitalize: "none", spellcheck: "false" }),
    password: field({ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }),
  };
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block btn-large" },
    mode === "signup" ? "Create account" : "Log in");
  const formError = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "auth-form", novalidate: true }, Object.values(fields), formError, submit);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(fields, null, null);
    formError.textContent = "";
    const values = Object.fromEntries(Object.keys(fields).map((k) => [k, fields[k].input.value.trim()]));
    values.password = fields.password.input.value;
    if (mode === "signup") values.username = values.username.toLowerCase();
    const missing = Object.keys(fields).find((k) => fields[k].input.required && !values[k]);
    if (missing) {
      setFieldError(fields, missing, "This is required.");
      fields[missing].input.focus();
      return;
    }
    submit.disabled = true;
    submit.classList.add("loading");
    try {
      if (mode === "signup") {
        if (!values.display_name) delete values.display_name;
        const user = await signup(values);
        toast(`Welcome to openfyp, ${user.display_name || user.username}!`, { kind: "success" });
      } else {
        await login(values.username, values.password);
      }
      navigate(next, { replace: true });
    } catch (err) {
      const name = err.field && fields[err.field] ? err.field : null;
      const message = err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : "That didn't work.";
      if (name) {
        setFieldError(fields, name, message);
        fields[name].input.focus();
      } else {
        formError.textContent = message;
      }
    } finally {
      submit.disabled = false;
      submit.classList.remove("loading");
    }
  });

  const switchHref = `${mode === "signup" ? "/login" : "/signup"}${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`;
  root.append(h("div", { class: "page auth-page" },
    h("div", { class: "auth-card" },
      h("img", { class: "auth-logo", src: "/static/icons/logo.svg", alt: "", width: "56", height: "56" }),
      h("h1", { class: "auth-title" }, mode === "signup" ? "Create your account" : "Log in to openfyp"),
      h("p", { class: "auth-sub" }, mode === "signup"
        ? "Post videos, follow creators, and get a For You feed that explains itself."
        : "Welcome back."),
      form,
      h("p", { class: "auth-switch" }, mode === "signup" ? "Already have an account? " : "New here? ",
        h("a", { href: switchHref }, mode === "signup" ? "Log in" : "Sign up")))));
  (fields.username.input).focus({ preventScroll: true });
  return null;
}
