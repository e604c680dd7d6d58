package pgxstore

// ListQuery is the listing's statement, for a test to EXPLAIN.
const ListQuery = listSessions
