/*
 * pseudo: MAC pseudonyms. Each raw MAC is replaced, as soon as it is parsed,
 * by keyed hashes: HMAC-SHA256(key, mac[6]) truncated to 64 bits (OpenSSL
 * libcrypto). The keys are random (getrandom), live only in this struct
 * (never on disk, never logged) and are wiped when replaced or freed.
 *
 * Two keys:
 *  - the day key, replaced at local midnight (pseudo_rotate). Visits are
 *    keyed by its pseudonym; the visit events carry it. Two days' pseudonyms
 *    of one phone cannot be linked. Right after a rotation the old day key
 *    is kept for a grace period (until pseudo_drop_prev_day) so a visit that
 *    spans midnight continues instead of splitting.
 *  - the repeat key, replaced every PSEUDO_REPEAT_EPOCH_DAYS days; the key of
 *    the previous epoch is kept as well, so "seen within the last 30 days"
 *    can be answered across an epoch change. Its pseudonyms stay in memory
 *    (the repeat table in visits.c) and never leave the gateway.
 * A restart draws new keys: repeat-visit history starts again (by design).
 */
#ifndef SHELF_PSEUDO_H
#define SHELF_PSEUDO_H

#include <stdbool.h>
#include <stdint.h>

#define PSEUDO_KEY_LEN 32
#define PSEUDO_REPEAT_EPOCH_DAYS 30

/* The pseudonyms of one MAC under every live key. */
struct pseudo_ids {
	uint64_t day; /* under today's key */
	uint64_t day_prev; /* under yesterday's key; valid when has_day_prev */
	uint64_t rep; /* under the current repeat key */
	uint64_t rep_prev; /* under the previous repeat key; valid when has_rep_prev */
	bool has_day_prev;
	bool has_rep_prev;
};

struct pseudo_keys; /* opaque: keys and precomputed HMAC states */

/*
 * New keys for the local day containing @now_ms (and its repeat epoch).
 * Returns 0, -ENOMEM, or -EIO when no randomness is available.
 */
int pseudo_new(int64_t now_ms, struct pseudo_keys **out);
/* Wipe and free. NULL is fine. */
void pseudo_free(struct pseudo_keys *k);
/*
 * Test hook: like pseudo_new but keys derived from @seed (deterministic).
 * Never used by shelfd.
 */
int pseudo_new_seeded(int64_t now_ms, uint64_t seed, struct pseudo_keys **out);

/*
 * Advance to @now_ms: when a local midnight has passed since the last call,
 * the day key becomes the previous day key (the older one is wiped) and a new
 * day key is drawn; every PSEUDO_REPEAT_EPOCH_DAYS days the same happens to
 * the repeat key. Returns true when the day key changed.
 */
bool pseudo_rotate(struct pseudo_keys *k, int64_t now_ms);
/* Wipe the previous day key (the grace after midnight is over). */
void pseudo_drop_prev_day(struct pseudo_keys *k);
/* The local day start (ms) the current day key belongs to. */
int64_t pseudo_day_start(const struct pseudo_keys *k);
/* How many rotations of the day key so far (0 after pseudo_new). */
uint32_t pseudo_day_gen(const struct pseudo_keys *k);

/* All pseudonyms of @mac. */
void pseudo_ids_of(const struct pseudo_keys *k, const uint8_t mac[6], struct pseudo_ids *out);

/* "0123456789abcdef": a pseudonym as 16 lowercase hex digits (+ NUL). */
void pseudo_hex(uint64_t p, char out[17]);

#endif
