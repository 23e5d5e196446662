"""The platform's domain services: accounts, videos, social actions, feeds, search and analytics.

Web routers, the CLI and the demo all call these; none of them talks HTTP.
"""
