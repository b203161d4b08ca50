"""The web face (SPEC §10): a skin over the archive, run by `serve` as a child process.

app (the routes, one table) · site (what every page needs: the database, the templates)
· lists (the node's lists, a list, a month) · posts (a post, its raw bytes, a thread) ·
downloads (mbox and Atom) · finding (search) · render (templates and their filters) ·
feed (Atom XML) · headers (security headers on every response) · supervisor (the child
process, restarted when it dies) · __main__ (the child's entry point).
"""
