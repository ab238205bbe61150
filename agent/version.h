/*
 * version: the one place the release version is defined (the build may
 * override it with -DSHELFD_VERSION=...). Reported in `status` to HQ, by
 * `shelfctl status` and by `shelfd --version`.
 */
#ifndef SHELF_VERSION_H
#define SHELF_VERSION_H

#ifndef SHELFD_VERSION
#define SHELFD_VERSION "0.1.0"
#endif

#endif
