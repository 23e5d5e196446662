"""Trust and safety: reports and the moderation queue, decisions and appeals, keyword filters, muted
words, account sanctions and the protections for minors.

Other packages call in through a few pure functions: ``filters.check_comment`` / ``filters.check_caption``
(and ``cases.hold_for_review`` for what a filter held), ``visibility.recommendable_clause`` and
``visibility.viewer_exclusions`` for the feeds, ``minors`` for age rules, ``sanctions.ensure_may_post``.
"""
