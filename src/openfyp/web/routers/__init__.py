"""Every router of the app, in the order they are mounted (pages last, so the API wins on clashes)."""

from openfyp.web.routers import auth, events, feeds, media, search, social, users, videos, analytics, pages
from openfyp.web.routers import moderation
from openfyp.web.routers import governance, privacy

ROUTERS = [
    auth.router, users.router, videos.router, social.router, events.router, feeds.router, search.router,
    analytics.router, moderation.router, governance.router, privacy.router, media.router, pages.router,
]
