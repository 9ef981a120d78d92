#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

// hiredis is used only for RESP: command formatting and the reply reader. Sockets are SwiftNIO's.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/// The reader's error text (a char[128] member, which Swift imports as a tuple).
static inline const char *chiredis_reader_error(const redisReader *reader) {
    return reader->errstr;
}

/// Whether the reader is in an error state (it must be discarded then).
static inline int chiredis_reader_failed(const redisReader *reader) {
    return reader->err != 0;
}

#endif
