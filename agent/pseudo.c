/*
 * pseudo: MAC pseudonyms, HMAC-SHA256 under in-memory keys. See pseudo.h.
 *
 * Speed: shelfd hashes every sighting under up to four keys, at thousands of
 * lines per second. HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)); the
 * SHA-256 states after the keyed ipad and opad blocks depend on the key
 * only, so they are computed once per key and copied per call: one HMAC is
 * then two SHA-256 compressions (the 6-byte MAC and the 32-byte inner digest
 * each fit one padded block), about 120 ns on an x86-64 with SHA-NI versus
 * 1.4 us for the one-shot HMAC() and 0.6 us for EVP_MAC_CTX_dup. This needs
 * the SHA256_Init/Update/Final calls that OpenSSL 3 marks deprecated (still
 * built by default and by every distribution); the deprecation warnings are
 * suppressed for this file only.
 *
 * Secrets: a raw key lives only on the stack while its two states are
 * computed and is wiped right after; the states (key equivalents) live in
 * struct pseudo_keys and are wiped when replaced or freed. Nothing here
 * logs, prints or returns key material.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "pseudo.h"
#include "util.h"

#define SHA256_BLOCK 64

/* One key, as its precomputed HMAC-SHA256 states. */
struct hkey {
	SHA256_CTX inner; /* after (K ^ ipad) */
	SHA256_CTX outer; /* after (K ^ opad) */
	bool live;
};

struct pseudo_keys {
	struct hkey day, day_prev, rep, rep_prev;
	int64_t day_start; /* local day start of the day key */
	int64_t rep_epoch; /* local days since 1970-01-01 / PSEUDO_REPEAT_EPOCH_DAYS */
	uint32_t day_gen;
	/* Test hook: keys from SHA-256(seed || counter) instead of getrandom. */
	bool seeded;
	uint64_t seed;
	uint64_t draws;
};

/* Fill @buf with @n random bytes from the kernel. Returns 0 or -EIO. */
static int random_bytes(uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* SHA-256 of @a and @b (either may be empty) into @out. */
static void sha256_two(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, a, an);
	SHA256_Update(&c, b, bn);
	SHA256_Final(out, &c);
	OPENSSL_cleanse(&c, sizeof(c));
}

/*
 * A new key into @key. Seeded: SHA-256 of the seed and a draw counter
 * (little-endian). Otherwise getrandom; should that fail after pseudo_new
 * succeeded (it does not on Linux once the pool is initialised), the key is
 * derived from fresh hashing of the old states and the clock so that the
 * rotation still happens: -EIO is returned only to pseudo_new.
 */
static int draw_key(struct pseudo_keys *k, uint8_t key[PSEUDO_KEY_LEN], bool fallback)
{
	uint8_t le[16];

	if (k->seeded) {
		for (int i = 0; i < 8; i++) {
			le[i] = (uint8_t)(k->seed >> (8 * i));
			le[8 + i] = (uint8_t)(k->draws >> (8 * i));
		}
		k->draws++;
		sha256_two(le, sizeof(le), NULL, 0, key);
		return 0;
	}
	if (random_bytes(key, PSEUDO_KEY_LEN) == 0)
		return 0;
	if (!fallback)
		return -EIO;
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		sha256_two(k, sizeof(*k), &ts, sizeof(ts), key);
		OPENSSL_cleanse(&ts, sizeof(ts));
	}
	return 0;
}

/* Precompute the HMAC states of @key into @h; wipes @key. */
static void hkey_set(struct hkey *h, uint8_t key[PSEUDO_KEY_LEN])
{
	uint8_t pad[SHA256_BLOCK];

	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < PSEUDO_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < PSEUDO_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, sizeof(pad));
	h->live = true;
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(key, PSEUDO_KEY_LEN);
}

static void hkey_wipe(struct hkey *h)
{
	OPENSSL_cleanse(h, sizeof(*h));
}

/* HMAC-SHA256(key, mac), the first 8 bytes as a big-endian integer. */
static uint64_t hkey_hmac(const struct hkey *h, const uint8_t mac[6])
{
	SHA256_CTX c = h->inner;
	uint8_t d[SHA256_DIGEST_LENGTH];
	uint64_t v = 0;

	SHA256_Update(&c, mac, 6);
	SHA256_Final(d, &c);
	c = h->outer;
	SHA256_Update(&c, d, sizeof(d));
	SHA256_Final(d, &c);
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v;
}

/* Local calendar days since 1970-01-01 of the day starting at @day_start. */
static int64_t local_day_number(int64_t day_start)
{
	time_t t = (time_t)(day_start / 1000);
	struct tm tm;
	int64_t local_s;

	if (!localtime_r(&t, &tm))
		local_s = day_start / 1000;
	else
		local_s = (int64_t)t + tm.tm_gmtoff;
	/* Floor division: days before 1970 are negative. */
	return local_s >= 0 ? local_s / 86400 : -((-local_s + 86399) / 86400);
}

static int64_t repeat_epoch(int64_t day_start)
{
	int64_t d = local_day_number(day_start);

	return d >= 0 ? d / PSEUDO_REPEAT_EPOCH_DAYS
		      : -((-d + PSEUDO_REPEAT_EPOCH_DAYS - 1) / PSEUDO_REPEAT_EPOCH_DAYS);
}

static int keys_init(struct pseudo_keys *k, int64_t now_ms)
{
	uint8_t key[PSEUDO_KEY_LEN];

	k->day_start = local_day_start_ms(now_ms);
	k->rep_epoch = repeat_epoch(k->day_start);
	if (draw_key(k, key, false) < 0)
		return -EIO;
	hkey_set(&k->day, key);
	if (draw_key(k, key, false) < 0)
		return -EIO;
	hkey_set(&k->rep, key);
	return 0;
}

static int keys_new(int64_t now_ms, bool seeded, uint64_t seed, struct pseudo_keys **out)
{
	struct pseudo_keys *k;
	int rc;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->seeded = seeded;
	k->seed = seed;
	rc = keys_init(k, now_ms);
	if (rc < 0) {
		pseudo_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int pseudo_new(int64_t now_ms, struct pseudo_keys **out)
{
	return keys_new(now_ms, false, 0, out);
}

int pseudo_new_seeded(int64_t now_ms, uint64_t seed, struct pseudo_keys **out)
{
	return keys_new(now_ms, true, seed, out);
}

void pseudo_free(struct pseudo_keys *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* @cur becomes @prev (the older prev is wiped) and @cur gets a new key. */
static void shift_key(struct pseudo_keys *k, struct hkey *cur, struct hkey *prev)
{
	uint8_t key[PSEUDO_KEY_LEN];

	hkey_wipe(prev);
	*prev = *cur;
	hkey_wipe(cur);
	draw_key(k, key, true);
	hkey_set(cur, key);
}

bool pseudo_rotate(struct pseudo_keys *k, int64_t now_ms)
{
	int64_t start = local_day_start_ms(now_ms);
	int64_t epoch;

	if (start <= k->day_start)
		return false; /* same day, or the clock went back: keep the keys */
	shift_key(k, &k->day, &k->day_prev);
	k->day_start = start;
	k->day_gen++;
	epoch = repeat_epoch(start);
	if (epoch > k->rep_epoch) {
		shift_key(k, &k->rep, &k->rep_prev);
		k->rep_epoch = epoch;
	}
	return true;
}

void pseudo_drop_prev_day(struct pseudo_keys *k)
{
	hkey_wipe(&k->day_prev);
}

int64_t pseudo_day_start(const struct pseudo_keys *k)
{
	return k->day_start;
}

uint32_t pseudo_day_gen(const struct pseudo_keys *k)
{
	return k->day_gen;
}

void pseudo_ids_of(const struct pseudo_keys *k, const uint8_t mac[6], struct pseudo_ids *out)
{
	out->day = hkey_hmac(&k->day, mac);
	out->rep = hkey_hmac(&k->rep, mac);
	out->has_day_prev = k->day_prev.live;
	out->day_prev = out->has_day_prev ? hkey_hmac(&k->day_prev, mac) : 0;
	out->has_rep_prev = k->rep_prev.live;
	out->rep_prev = out->has_rep_prev ? hkey_hmac(&k->rep_prev, mac) : 0;
}

void pseudo_hex(uint64_t p, char out[17])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		out[i] = digits[p & 0xf];
		p >>= 4;
	}
	out[16] = '\0';
}
