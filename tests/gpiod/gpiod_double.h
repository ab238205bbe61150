/*
 * gpiod_double: a test double of the libgpiod v1 calls drivers/camera.c
 * uses, backed by a directory of FIFOs instead of a GPIO chip (this machine
 * has none). Link gpiod_double.o instead of -lgpiod. See README.md for the
 * directory layout and the record format.
 *
 * The helpers below are for C tests; Python tests and scripts/store-sim
 * write the same files and records themselves.
 */
#ifndef SHELF_GPIOD_DOUBLE_H
#define SHELF_GPIOD_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

/* The environment variable naming the backing directory. */
#define GPIOD_DOUBLE_ENV "SHELF_GPIOD_SIM"
/* Size of one edge record on a line's FIFO. */
#define GPIOD_DOUBLE_RECORD 16

/*
 * Write one edge record to @dir/@chip/@line: @rising (else falling) at
 * @realtime_ns (CLOCK_REALTIME ns; 0 = "when read"). Returns 0, -ENXIO when
 * no driver has the line requested (the edge would be lost, as on a real
 * chip), -ENOENT when the FIFO does not exist yet, or another -errno.
 */
int gpiod_double_edge(const char *dir, const char *chip, unsigned line, bool rising,
		      int64_t realtime_ns);
/* The current CLOCK_REALTIME in ns, for building edge times. */
int64_t gpiod_double_realtime_ns(void);
/* Set the level gpiod_line_get_value() reads on @line (0 or 1). Returns 0 or -errno. */
int gpiod_double_set_value(const char *dir, const char *chip, unsigned line, int value);
/*
 * Make @line's chip vanish (@on) or come back. While gone, reads fail with
 * ENODEV (a wake-up record is written so a waiting reader notices) and new
 * requests fail with ENODEV. Returns 0 or -errno.
 */
int gpiod_double_set_gone(const char *dir, const char *chip, unsigned line, bool on);
/* Make requests of @line fail with EBUSY (@on) or not. Returns 0 or -errno. */
int gpiod_double_set_busy(const char *dir, const char *chip, unsigned line, bool on);

#endif
