// The comment sheet: threads newest first, replies under their comment, and a post box at the bottom.

import { del, get, post } from "../api.js";
import { avatar, clear, formatCount, h, icon, richText, spinner, timeAgo } from "../dom.js";
import { requireSignIn, session } from "../session.js";
import { openSheet } from "../sheet.js";
import { toast, toastError } from "../toast.js";
import { actionContext } from "./actions.js";

const MAX_LENGTH = 500;

function authorOf(comment) {
  return comment.author || comment.user || { username: comment.username || "unknown" };
}

export function openComments(item, { onCountChange = () => {}, count = null } = {}) {
  let total = Number(count ?? item.stats?.comments ?? 0);
  let nextCursor = null;
  let replyingTo = null;
  const titleFor = () => (total === 1 ? "1 comment" : `${formatCount(total)} comments`);

  const list = h("ul", { class: "comment-list", "aria-live": "polite" });
  const status = h("div", { class: "comment-status" }, spinner("Loading comments"));
  const moreButton = h("button", { type: "button", class: "btn btn-ghost btn-small comment-more", hidden: true },
    "Load more comments");
  const scroller = h("div", { class: "comment-scroll" }, list, status, moreButton);

  const input = h("textarea", {
    class: "composer-input", rows: "1", maxlength: String(MAX_LENGTH), placeholder: "Add a comment…",
    "aria-label": "Add a comment", enterkeyhint: "send",
  });
  const sendButton = h("button", { type: "submit", class: "composer-send", "aria-label": "Post comment", disabled: true },
    icon("send", { size: 22 }));
  const replyChip = h("div", { class: "composer-reply", hidden: true });
  const form = h("form", { class: "composer" }, replyChip, h("div", { class: "composer-row" },
    avatar(session.user, 32), input, sendButton));
  const composer = session.user ? form : h("div", { class: "composer composer-signed-out" },
    h("button", {
      type: "button", class: "btn btn-primary btn-block",
      onclick: () => requireSignIn("Sign in to join the conversation."),
    }, "Log in to comment"));

  const sheet = openSheet({ title: titleFor(), className: "comments-sheet", tall: true, content: [scroller, composer] });

  function setTotal(delta) {
    total = Math.max(0, total + delta);
    sheet.setTitle(titleFor());
    onCountChange(delta);
  }

  function setReplying(comment) {
    replyingTo = comment;
    clear(replyChip);
    if (comment) {
      replyChip.append(h("span", null, `Replying to @${authorOf(comment).username}`),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Cancel reply", onclick: () => setReplying(null) },
          icon("close", { size: 16 })));
      input.placeholder = `Reply to @${authorOf(comment).username}…`;
      input.focus();
    } else {
      input.placeholder = "Add a comment…";
    }
    replyChip.hidden = !comment;
  }

  function commentNode(comment, { isReply = false } = {}) {
    const author = authorOf(comment);
    const repliesList = h("ul", { class: "reply-list" });
    const node = h("li", { class: ["comment", isReply && "reply"], dataset: { commentId: String(comment.id) } },
      h("a", { href: `/@${author.username}`, class: "comment-avatar", "aria-label": `@${author.username}` },
        avatar(author, isReply ? 28 : 36)),
      h("div", { class: "comment-main" },
        h("div", { class: "comment-head" },
          h("a", { href: `/@${author.username}`, class: "comment-author" }, author.display_name || author.username),
          item.creator && author.username === item.creator.username ? h("span", { class: "badge" }, "Creator") : null,
          h("span", { class: "comment-time" }, timeAgo(comment.created_at))),
        h("p", { class: "comment-body" }, richText(comment.body)),
        h("div", { class: "comment-actions" },
          h("button", {
            type: "button", class: "link-btn",
            onclick: () => {
              if (requireSignIn("Sign in to reply.")) setReplying(isReply ? comment.threadRoot : comment);
            },
          }, "Reply"),
          comment.can_delete || (session.user && author.username === session.user.username)
            ? h("button", { type: "button", class: "link-btn danger", onclick: () => remove(comment, node) }, "Delete")
            : null),
        isReply ? null : repliesList));
    if (!isReply) {
      node.repliesList = repliesList;
      const replies = comment.replies || [];
      for (const reply of replies) {
        reply.threadRoot = comment;
        repliesList.append(commentNode(reply, { isReply: true }));
      }
      const hidden = Number(comment.reply_count || 0) - replies.length;
      if (hidden > 0) repliesList.after(moreRepliesButton(comment, repliesList, hidden, replies));
    }
    return node;
  }

  function moreRepliesButton(comment, repliesList, hidden, shown) {
    let cursor = null;
    const seen = new Set(shown.map((r) => r.id));
    const button = h("button", { type: "button", class: "link-btn view-replies" },
      `View ${hidden} more ${hidden === 1 ? "reply" : "replies"}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const page = await get(`/api/comments/${comment.id}/replies`, { cursor, limit: 20 });
        for (const reply of page.items || []) {
          if (seen.has(reply.id)) continue;
          seen.add(reply.id);
          reply.threadRoot = comment;
          repliesList.append(commentNode(reply, { isReply: true }));
        }
        cursor = page.next_cursor;
        if (cursor) button.disabled = false;
        else button.remove();
      } catch (err) {
        button.disabled = false;
        toastError(err);
      }
    });
    return button;
  }

  async function remove(comment, node) {
    try {
      await del(`/api/comments/${comment.id}`);
      const removed = 1 + (comment.parent_id ? 0 : Number(comment.reply_count || 0));
      node.remove();
      setTotal(-removed);
      toast("Comment deleted", { kind: "success" });
      if (!list.children.length) showEmpty();
    } catch (err) {
      toastError(err);
    }
  }

  function showEmpty() {
    clear(status).append(h("div", { class: "comment-empty" }, icon("comment", { size: 32 }),
      h("p", { class: "comment-empty-title" }, "No comments yet"),
      h("p", null, "Start the conversation.")));
    status.hidden = false;
  }

  async function loadPage() {
    moreButton.hidden = true;
    try {
      const page = await get(`/api/videos/${item.id}/comments`, { cursor: nextCursor, limit: 20 });
      status.hidden = true;
      for (const comment of page.items || []) list.append(commentNode(comment));
      nextCursor = page.next_cursor || null;
      moreButton.hidden = !nextCursor;
      if (!list.children.length) showEmpty();
    } catch (err) {
      clear(status).append(h("p", { class: "comment-error" }, err.message),
        h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: loadPage }, "Try again"));
      status.hidden = false;
    }
  }

  moreButton.addEventListener("click", loadPage);

  input.addEventListener("input", () => {
    sendButton.disabled = !input.value.trim();
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    sendButton.disabled = true;
    try {
      const payload = { body, ...actionContext(item) };
      if (replyingTo) payload.parent_id = replyingTo.id;
      const created = await post(`/api/videos/${item.id}/comments`, payload);
      const comment = { ...created, author: authorOf(created).username !== "unknown" ? authorOf(created) : session.user };
      if (replyingTo) {
        comment.threadRoot = replyingTo;
        const parentNode = list.querySelector(`[data-comment-id="${replyingTo.id}"]`);
        parentNode?.repliesList.append(commentNode(comment, { isReply: true }));
      } else {
        status.hidden = true;
        list.prepend(commentNode(comment));
        scroller.scrollTop = 0;
      }
      input.value = "";
      input.style.height = "auto";
      setReplying(null);
      setTotal(1);
    } catch (err) {
      toastError(err);
    } finally {
      sendButton.disabled = !input.value.trim();
    }
  });

  loadPage();
  return sheet;
}
