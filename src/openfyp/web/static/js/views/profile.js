// A creator's profile: who they are, their numbers, a follow button and the grid of their videos.

import { api, get, patch } from "../api.js";
import { avatar, button, clear, emptyState, formatCount, h, icon, linkButton, richText } from "../dom.js";
import { announceFollow, copyText, onFollowChange, setFollowing } from "../feed/actions.js";
import { tracker } from "../events.js";
import { isMe, logout, refreshSession, requireSignIn, session } from "../session.js";
import { confirmSheet, openMenu, openSheet } from "../sheet.js";
import { toast, toastError } from "../toast.js";
import { VideoGrid, pageHeader, renderError, setTitle } from "./common.js";

const BIO_MAX = 160;
const NAME_MAX = 64;

export async function render({ root, params, signal }) {
  const username = params[0].toLowerCase();
  setTitle(`@${username}`);
  const page = h("div", { class: "page profile-page" }, pageHeader(`@${username}`), profileSkeleton());
  root.append(page);
  let profile;
  try {
    profile = await get(`/api/users/${encodeURIComponent(username)}`, null, { signal });
  } catch (err) {
    if (err.status === 404) {
      page.replaceChildren(pageHeader(`@${username}`), h("div", { class: "page-center" }, emptyState({
        iconName: "user", title: "Couldn't find this account", body: `There's no @${username} here, or it isn't available.`,
        action: linkButton("Search creators", "/search", { variant: "secondary", iconName: "search" }),
      })));
      return null;
    }
    renderError(root, err);
    return null;
  }
  setTitle(`${profile.display_name || profile.username} (@${profile.username})`);
  const owner = isMe(profile.username);
  const grid = new VideoGrid({
    source: "profile",
    title: `@${profile.username}`,
    owner,
    load: (cursor) => get(`/api/users/${encodeURIComponent(profile.username)}/videos`, { cursor, limit: 24 }, { signal }),
    empty: () => emptyState(owner
      ? { iconName: "upload", title: "Post your first video", body: "Your videos appear here, ready to share.",
        action: linkButton("Upload", "/upload", { iconName: "upload" }) }
      : { iconName: "film", title: "No videos yet", body: `When @${profile.username} posts, you'll see it here.` }),
  });

  const cleanups = [];
  const draw = () => {
    const hero = heroFor(profile, owner, draw);
    const blocked = profile.viewer?.is_blocked;
    const actions = [
      owner ? h("a", { href: "/settings", class: "icon-btn", "aria-label": "Settings" }, icon("sliders", { size: 22 })) : null,
      h("button", {
        type: "button", class: "icon-btn", "aria-label": "More options",
        onclick: () => profileMenu(profile, owner, () => draw()),
      }, icon("more", { size: 22 })),
    ];
    page.replaceChildren(pageHeader(`@${profile.username}`, { actions }), hero,
      blocked ? h("div", { class: "page-center" }, emptyState({
        iconName: "hide", title: `You blocked @${profile.username}`, body: "You won't see each other's videos or comments.",
        action: button("Unblock", { variant: "secondary", onclick: () => unblock(profile, draw) }),
      })) : h("div", { class: "profile-tabs", role: "tablist" },
        h("span", { class: "profile-tab active", role: "tab", "aria-selected": "true" }, icon("film", { size: 18 }),
          `Videos · ${formatCount(profile.stats?.videos)}`)),
      blocked ? null : grid.el);
  };
  draw();
  grid.start();
  cleanups.push(onFollowChange((name, following) => {
    if (name !== profile.username || !profile.viewer) return;
    if (profile.viewer.is_following !== following) {
      profile.viewer.is_following = following;
      profile.stats.followers = Math.max(0, (profile.stats.followers || 0) + (following ? 1 : -1));
      draw();
    }
  }));
  return () => {
    grid.destroy();
    for (const cleanup of cleanups) cleanup();
  };
}

function profileSkeleton() {
  return h("div", { class: "profile-hero", "aria-hidden": "true" },
    h("span", { class: "sk sk-circle big" }), h("span", { class: "sk sk-line mid center" }),
    h("span", { class: "sk sk-line short center" }), h("div", { class: "stats" }, h("span", { class: "sk sk-line" })));
}

function heroFor(profile, owner, redraw) {
  const stats = profile.stats || {};
  const viewer = profile.viewer;
  let avatarEl = avatar(profile, 96, "profile-avatar");
  if (owner) {
    const input = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp,image/gif", class: "visually-hidden",
      id: "avatar-input" });
    input.addEventListener("change", () => input.files[0] && uploadAvatar(input.files[0], profile, redraw));
    avatarEl = h("label", { class: "avatar-edit", for: "avatar-input", title: "Change photo" }, avatarEl,
      h("span", { class: "avatar-edit-badge" }, icon("edit", { size: 14 })), input);
  }
  const actions = [];
  if (owner) {
    actions.push(button("Edit profile", { variant: "secondary", onclick: () => editProfile(profile, redraw) }),
      linkButton("Studio", "/studio", { variant: "secondary", iconName: "chart" }));
  } else if (!viewer?.is_blocked) {
    const following = !!viewer?.is_following;
    actions.push(h("button", {
      type: "button", class: ["btn", following ? "btn-secondary" : "btn-primary", "btn-wide"],
      "aria-pressed": String(following),
      onclick: () => toggleFollow(profile, redraw),
    }, following ? [icon("check", { size: 18 }), "Following"] : "Follow"));
    if (viewer?.follows_you && !following) actions.push(h("span", { class: "chip" }, "Follows you"));
  }
  actions.push(h("button", {
    type: "button", class: "btn btn-secondary btn-icon", "aria-label": "Copy profile link",
    onclick: async () => {
      const url = new URL(`/@${profile.username}`, location.origin).href;
      toast((await copyText(url)) ? "Profile link copied" : url, { kind: "success" });
    },
  }, icon("link", { size: 18 })));

  return h("section", { class: "profile-hero" },
    avatarEl,
    h("h1", { class: "profile-name" }, profile.display_name || profile.username),
    h("p", { class: "profile-handle" }, `@${profile.username}`,
      profile.role && !["viewer", "creator"].includes(profile.role) ? h("span", { class: "badge" }, profile.role) : null),
    h("div", { class: "stats" },
      statButton(stats.following, "Following", () => openConnections(profile, "following")),
      statButton(stats.followers, "Followers", () => openConnections(profile, "followers")),
      h("div", { class: "stat" }, h("strong", null, formatCount(stats.likes)), h("span", null, "Likes"))),
    h("div", { class: "profile-actions" }, actions),
    profile.bio ? h("p", { class: "profile-bio" }, richText(profile.bio))
      : owner ? h("p", { class: "profile-bio muted" }, "Tell people about yourself — tap Edit profile.") : null);
}

function statButton(value, label, onclick) {
  return h("button", { type: "button", class: "stat", onclick }, h("strong", null, formatCount(value)), h("span", null, label));
}

async function toggleFollow(profile, redraw) {
  if (!requireSignIn(`Sign in to follow @${profile.username}.`)) return;
  const following = !profile.viewer?.is_following;
  try {
    const result = await setFollowing(profile.username, following, { source: "profile" });
    profile.viewer = { ...(profile.viewer || {}), is_following: result?.following ?? following };
    if (typeof result?.followers === "number") profile.stats.followers = result.followers;
    redraw();
    announceFollow(profile.username, following);
  } catch (err) {
    toastError(err);
  }
}

function editProfile(profile, redraw) {
  const name = h("input", { id: "edit-name", class: "input", value: profile.display_name || "", maxlength: String(NAME_MAX),
    autocomplete: "nickname" });
  const bio = h("textarea", { id: "edit-bio", class: "input", rows: "3", maxlength: String(BIO_MAX) });
  bio.value = profile.bio || "";
  const counter = h("span", { class: "caption-count" }, `${bio.value.length}/${BIO_MAX}`);
  bio.addEventListener("input", () => {
    counter.textContent = `${bio.value.length}/${BIO_MAX}`;
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Save");
  const sheet = openSheet({
    title: "Edit profile", className: "form-sheet",
    content: h("form", {
      class: "sheet-form",
      onsubmit: async (event) => {
        event.preventDefault();
        save.disabled = true;
        error.textContent = "";
        try {
          const user = await patch("/api/users/me", { display_name: name.value, bio: bio.value });
          profile.display_name = user.display_name;
          profile.bio = user.bio;
          await refreshSession().catch(() => {});
          sheet.close();
          redraw();
          toast("Profile updated", { kind: "success" });
        } catch (err) {
          error.textContent = err.message;
        } finally {
          save.disabled = false;
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: "edit-name", class: "label" }, "Display name"), name),
    h("div", { class: "field" }, h("label", { for: "edit-bio", class: "label" }, "Bio"), bio, h("div", { class: "caption-foot" }, counter)),
    error, save),
  });
  name.focus();
}

async function uploadAvatar(file, profile, redraw) {
  const data = new FormData();
  data.append("file", file, file.name);
  try {
    const user = await api("/api/users/me/avatar", { method: "PUT", body: data });
    profile.avatar_url = user.avatar_url ? `${user.avatar_url}${user.avatar_url.includes("?") ? "&" : "?"}t=${Date.now()}` : null;
    await refreshSession().catch(() => {});
    redraw();
    toast("Photo updated", { kind: "success" });
  } catch (err) {
    toastError(err);
  }
}

function profileMenu(profile, owner, redraw) {
  const items = [
    { icon: "link", label: "Copy profile link", action: async () => {
      const url = new URL(`/@${profile.username}`, location.origin).href;
      toast((await copyText(url)) ? "Profile link copied" : url, { kind: "success" });
    } },
  ];
  if (owner) {
    items.push({ icon: "chart", label: "Studio", hint: "Your analytics", action: () => document.querySelector("a[href='/studio']")?.click() },
      { icon: "sliders", label: "Settings and privacy", action: () => document.querySelector("a[href='/settings']")?.click() },
      { icon: "logout", label: "Log out", action: async () => {
        tracker.flushNow();
        await logout().catch(() => {});
        toast("Logged out");
        location.assign("/");
      } });
  } else if (session.user) {
    items.push(profile.viewer?.is_blocked
      ? { icon: "user", label: `Unblock @${profile.username}`, action: () => unblock(profile, redraw) }
      : { icon: "hide", label: `Block @${profile.username}`, danger: true, hint: "They can't see your videos or find you",
        action: () => block(profile, redraw) });
  }
  openMenu({ label: "Profile options", items });
}

async function block(profile, redraw) {
  const sure = await confirmSheet({
    title: `Block @${profile.username}?`, danger: true, confirmLabel: "Block",
    body: "You'll stop following each other, and neither of you will see the other's videos or comments.",
  });
  if (!sure) return;
  try {
    await api(`/api/users/${encodeURIComponent(profile.username)}/block`, { method: "POST" });
    profile.viewer = { ...(profile.viewer || {}), is_blocked: true, is_following: false };
    redraw();
    toast(`Blocked @${profile.username}`, { kind: "success" });
  } catch (err) {
    toastError(err);
  }
}

async function unblock(profile, redraw) {
  try {
    await api(`/api/users/${encodeURIComponent(profile.username)}/block`, { method: "DELETE" });
    profile.viewer = { ...(profile.viewer || {}), is_blocked: false };
    redraw();
    toast(`Unblocked @${profile.username}`, { kind: "success" });
  } catch (err) {
    toastError(err);
  }
}

function openConnections(profile, which) {
  const list = h("ul", { class: "people-list" });
  const more = h("button", { type: "button", class: "btn btn-ghost btn-small", hidden: true }, "Show more");
  let cursor = null;
  const load = async () => {
    more.hidden = true;
    try {
      const page = await get(`/api/users/${encodeURIComponent(profile.username)}/${which}`, { cursor, limit: 30 });
      for (const person of page.items || []) list.append(personRow(person));
      if (!list.children.length) list.append(h("li", { class: "muted people-empty" },
        which === "followers" ? "No followers yet." : "Not following anyone yet."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      clear(list).append(h("li", { class: "form-error" }, err.message));
    }
  };
  more.addEventListener("click", load);
  openSheet({ title: which === "followers" ? "Followers" : "Following", tall: true, className: "people-sheet",
    content: [list, more] });
  load();
}

export function personRow(person, { subtitle = null } = {}) {
  const following = person.viewer?.is_following;
  const followButton = session.user && !isMe(person.username) && following !== undefined
    ? h("button", {
      type: "button", class: ["btn", "btn-small", following ? "btn-secondary" : "btn-primary"],
      onclick: async (event) => {
        const btn = event.currentTarget;
        const next = btn.getAttribute("aria-pressed") !== "true";
        try {
          await setFollowing(person.username, next, null);
          btn.setAttribute("aria-pressed", String(next));
          btn.className = `btn btn-small ${next ? "btn-secondary" : "btn-primary"}`;
          btn.textContent = next ? "Following" : "Follow";
          announceFollow(person.username, next);
        } catch (err) {
          toastError(err);
        }
      },
      "aria-pressed": String(!!following), "aria-label": `${following ? "Unfollow" : "Follow"} @${person.username}`,
    }, following ? "Following" : "Follow")
    : null;
  return h("li", { class: "person" },
    h("a", { class: "person-link", href: `/@${person.username}` }, avatar(person, 44),
      h("span", { class: "person-text" },
        h("span", { class: "person-name" }, person.display_name || person.username),
        h("span", { class: "person-sub" }, subtitle || `@${person.username}`))),
    followButton);
}

