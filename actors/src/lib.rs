//! omnibus-actors: the engine's actix actors over the pure core and the write-ahead log.
