"""What moderation asks of the comment path, in the two calls it makes::

    verdict = moderation.comments.screen_comment(db, settings, author, video, body)   # may raise 403/422
    comment = Comment(..., body=body, moderation_state=verdict.initial_state)
    db.add(comment); db.flush()
    moderation.comments.queue_if_held(db, comment, verdict)

and, when listing comments for a viewer, ``visibility.comment_clause(viewer_id)`` in the query plus
``visibility.viewer_exclusions(db, viewer, settings).keep_comments(rows)`` (blocked authors, muted words).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from openfyp.moderation import cases, filters, minors, sanctions
from openfyp.moderation.filters import Verdict
from openfyp.settings import Settings
from openfyp.store.tables import Comment, User, Video


def screen_comment(db: Session, settings: Settings, author: User, video: Video, body: str) -> Verdict:
    """Everything checked before a comment is stored.

    Raises 403 ``account_suspended`` (a suspended author), 403 ``minor_contact_restricted`` (an adult on the
    video of a young person who does not follow them) or 422 ``keyword_blocked`` (naming the rule). Returns
    the verdict, whose ``initial_state`` is ``held`` when a keyword rule wants a moderator to look first.
    """
    sanctions.ensure_may_post(db, author)
    minors.ensure_may_comment(db, author, video, settings)
    return filters.check_comment(db, settings.region, body).raise_if_blocked("body")


def queue_if_held(db: Session, comment: Comment, verdict: Verdict) -> None:
    """Puts a held comment (already flushed, so it has an id) in the moderation queue."""
    if verdict.held:
        cases.hold_for_review(db, region=comment.region, target_kind="comment", target_id=comment.id,
                              owner_id=comment.user_id, verdict=verdict)
