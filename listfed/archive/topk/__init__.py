"""The archive's ranked index: tantivy beside FTS5, for the searches the web face runs.

FTS5 scores every match before it can sort (26-35 ms of CPU for a common word in a
100,000-post archive); tantivy's top-k search skips what cannot make the page (about
1 ms). The index is derived, like FTS5's: `search_pending` (filled by triggers on the
archive) says which posts changed, the daemon's `Feeder` carries them over, and a lost
or damaged index is rebuilt from the archive. A search uses it only when it is current
(see `Reader.current`); else FTS5 answers, as it always did.

    index.py    the schema, the folder, opening for reading and writing
    feed.py     carrying the archive's changes over (the daemon)
    compile.py  the query language (archive/querylex's tree) as a tantivy query
    rank.py     the best hits, then the archive's rows for them
"""
