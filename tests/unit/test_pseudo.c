/*
 * test_pseudo: MAC pseudonyms (agent/pseudo.h). One key set maps a MAC to
 * the same ids every time and different MACs apart; two key sets disagree;
 * seeded keys are deterministic and the ids are real HMAC-SHA256 values
 * (checked against OpenSSL's one-shot HMAC()); the three MAC spellings are
 * one byte string and one pseudonym; the day key rotates exactly at local
 * midnight (UTC and Asia/Shanghai), keeps yesterday's key until dropped and
 * leaves the repeat key alone; the repeat key rotates every 30 local days
 * and keeps the previous epoch's; pseudo_hex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "pseudo.h"
#include "util.h"

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
/* 2025-11-24T00:00:00Z: local day 20416 since 1970 in UTC (epoch 680, days 20400..20429). */
#define MIDNIGHT_UTC 1763942400000LL
/* 2025-12-08T00:00:00Z: day 20430, the first day of repeat epoch 681. */
#define EPOCH_681_UTC 1765152000000LL

static const uint8_t mac_a[6] = {0xa4, 0x5e, 0x60, 0xc1, 0x22, 0x33};
static const uint8_t mac_b[6] = {0xda, 0xa1, 0x19, 0x00, 0x11, 0x22};

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static struct pseudo_keys *new_keys(int64_t now)
{
	struct pseudo_keys *k = NULL;

	assert_int_equal(pseudo_new(now, &k), 0);
	assert_non_null(k);
	return k;
}

static struct pseudo_keys *new_seeded(int64_t now, uint64_t seed)
{
	struct pseudo_keys *k = NULL;

	assert_int_equal(pseudo_new_seeded(now, seed, &k), 0);
	assert_non_null(k);
	return k;
}

static void test_same_mac_same_ids(void **state)
{
	struct pseudo_keys *k;
	struct pseudo_ids a1, a2, b;

	set_tz("UTC");
	k = new_keys(MIDNIGHT_UTC + 10 * HOUR_MS);
	memset(&a1, 0x55, sizeof(a1));
	pseudo_ids_of(k, mac_a, &a1);
	pseudo_ids_of(k, mac_a, &a2);
	pseudo_ids_of(k, mac_b, &b);
	assert_true(a1.day == a2.day && a1.rep == a2.rep);
	assert_true(a1.day != b.day && a1.rep != b.rep);
	assert_true(a1.day != a1.rep); /* two different keys */
	assert_false(a1.has_day_prev);
	assert_false(a1.has_rep_prev);
	assert_true(a1.day_prev == 0 && a1.rep_prev == 0);
	assert_int_equal(pseudo_day_gen(k), 0);
	assert_int_equal(pseudo_day_start(k), MIDNIGHT_UTC);
	pseudo_free(k);
	pseudo_free(NULL);
}

static void test_keys_differ(void **state)
{
	struct pseudo_keys *k1, *k2;
	struct pseudo_ids a, b;

	k1 = new_keys(MIDNIGHT_UTC);
	k2 = new_keys(MIDNIGHT_UTC);
	pseudo_ids_of(k1, mac_a, &a);
	pseudo_ids_of(k2, mac_a, &b);
	assert_true(a.day != b.day);
	assert_true(a.rep != b.rep);
	pseudo_free(k1);
	pseudo_free(k2);
}

/* The key a seeded set draws @n-th: SHA-256(seed LE64 || n LE64). */
static void seeded_key(uint64_t seed, uint64_t n, uint8_t key[32])
{
	uint8_t in[16];

	for (int i = 0; i < 8; i++) {
		in[i] = (uint8_t)(seed >> (8 * i));
		in[8 + i] = (uint8_t)(n >> (8 * i));
	}
	SHA256(in, sizeof(in), key);
}

/* HMAC-SHA256 by OpenSSL's one-shot call, truncated to 64 bits big-endian. */
static uint64_t ref_hmac(const uint8_t key[32], const uint8_t mac[6])
{
	uint8_t d[32];
	unsigned int dl = 0;
	uint64_t v = 0;

	assert_non_null(HMAC(EVP_sha256(), key, 32, mac, 6, d, &dl));
	assert_int_equal(dl, 32);
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v;
}

static void test_seeded(void **state)
{
	struct pseudo_keys *k1, *k2, *k3;
	struct pseudo_ids a, b, c;
	uint8_t key[32];

	set_tz("UTC");
	k1 = new_seeded(MIDNIGHT_UTC, 42);
	k2 = new_seeded(MIDNIGHT_UTC + 5 * HOUR_MS, 42);
	k3 = new_seeded(MIDNIGHT_UTC, 43);
	pseudo_ids_of(k1, mac_a, &a);
	pseudo_ids_of(k2, mac_a, &b);
	pseudo_ids_of(k3, mac_a, &c);
	assert_true(a.day == b.day && a.rep == b.rep);
	assert_true(a.day != c.day && a.rep != c.rep);
	/* Real HMAC-SHA256: draws 0 and 1 are the day and repeat keys. */
	seeded_key(42, 0, key);
	assert_true(a.day == ref_hmac(key, mac_a));
	seeded_key(42, 1, key);
	assert_true(a.rep == ref_hmac(key, mac_a));
	/* Rotations stay deterministic. */
	assert_true(pseudo_rotate(k1, MIDNIGHT_UTC + DAY_MS));
	assert_true(pseudo_rotate(k2, MIDNIGHT_UTC + DAY_MS + HOUR_MS));
	pseudo_ids_of(k1, mac_b, &a);
	pseudo_ids_of(k2, mac_b, &b);
	assert_true(a.day == b.day && a.day_prev == b.day_prev && a.rep == b.rep);
	seeded_key(42, 2, key);
	assert_true(a.day == ref_hmac(key, mac_b));
	pseudo_free(k1);
	pseudo_free(k2);
	pseudo_free(k3);
}

/* A MAC's text to bytes, for the three spellings (not the probe parser). */
static void mac_of(const char *s, uint8_t mac[6])
{
	size_t step = strlen(s) == 17 ? 3 : 2;
	unsigned int v;

	for (int i = 0; i < 6; i++) {
		char pair[3] = {s[i * step], s[i * step + 1], '\0'};

		assert_int_equal(sscanf(pair, "%2x", &v), 1);
		mac[i] = (uint8_t)v;
	}
}

static void test_spellings_same_pseudonym(void **state)
{
	static const char *const spellings[] = {"a4:5e:60:c1:22:33", "A4-5E-60-C1-22-33",
						"a45E60c12233"};
	struct pseudo_keys *k = new_keys(MIDNIGHT_UTC);
	struct pseudo_ids first = {0}, ids;
	uint8_t mac[6];

	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		mac_of(spellings[i], mac);
		assert_memory_equal(mac, mac_a, 6);
		pseudo_ids_of(k, mac, &ids);
		if (i == 0)
			first = ids;
		assert_true(ids.day == first.day && ids.rep == first.rep);
	}
	pseudo_free(k);
}

/*
 * One midnight in the zone set by the caller: @midnight is a local midnight
 * in epoch ms; the keys are drawn 1 ms before it.
 */
static void check_midnight(int64_t midnight)
{
	struct pseudo_keys *k;
	struct pseudo_ids before, after, later;

	k = new_keys(midnight - 1);
	assert_int_equal(pseudo_day_start(k), local_day_start_ms(midnight - 1));
	assert_true(pseudo_day_start(k) < midnight);
	pseudo_ids_of(k, mac_a, &before);
	/* Still the same day up to the last millisecond. */
	assert_false(pseudo_rotate(k, midnight - 1));
	assert_int_equal(pseudo_day_gen(k), 0);
	/* Midnight: a new day key, yesterday's kept, the repeat key untouched. */
	assert_true(pseudo_rotate(k, midnight));
	assert_int_equal(pseudo_day_gen(k), 1);
	assert_int_equal(pseudo_day_start(k), midnight);
	pseudo_ids_of(k, mac_a, &after);
	assert_true(after.day != before.day);
	assert_true(after.has_day_prev);
	assert_true(after.day_prev == before.day);
	assert_true(after.rep == before.rep);
	assert_false(after.has_rep_prev);
	/* No second rotation within the new day, nor for an older time. */
	assert_false(pseudo_rotate(k, midnight + 1));
	assert_false(pseudo_rotate(k, midnight + 23 * HOUR_MS));
	assert_false(pseudo_rotate(k, midnight - HOUR_MS));
	assert_int_equal(pseudo_day_gen(k), 1);
	pseudo_ids_of(k, mac_a, &later);
	assert_true(later.day == after.day && later.day_prev == after.day_prev);
	/* The grace is over: yesterday's key is gone. */
	pseudo_drop_prev_day(k);
	pseudo_ids_of(k, mac_a, &later);
	assert_false(later.has_day_prev);
	assert_true(later.day_prev == 0);
	assert_true(later.day == after.day && later.rep == after.rep);
	pseudo_drop_prev_day(k); /* twice is fine */
	pseudo_free(k);
}

static void test_rotation_midnight_utc(void **state)
{
	set_tz("UTC");
	check_midnight(MIDNIGHT_UTC);
	set_tz("UTC0");
	check_midnight(MIDNIGHT_UTC + 3 * DAY_MS);
}

static void test_rotation_midnight_shanghai(void **state)
{
	struct pseudo_keys *k;

	set_tz("Asia/Shanghai");
	/* Local midnight is 16:00 UTC the day before. */
	assert_int_equal(local_day_start_ms(MIDNIGHT_UTC), MIDNIGHT_UTC - 8 * HOUR_MS);
	check_midnight(MIDNIGHT_UTC + 16 * HOUR_MS);
	/* UTC midnight (08:00 local) is no rotation. */
	k = new_keys(MIDNIGHT_UTC - HOUR_MS);
	assert_false(pseudo_rotate(k, MIDNIGHT_UTC));
	assert_false(pseudo_rotate(k, MIDNIGHT_UTC + 15 * HOUR_MS));
	assert_true(pseudo_rotate(k, MIDNIGHT_UTC + 16 * HOUR_MS));
	pseudo_free(k);
	set_tz("UTC");
}

/* Two midnights without a drop: the older previous key is replaced. */
static void test_two_rotations(void **state)
{
	struct pseudo_keys *k;
	struct pseudo_ids d0, d1, d2;

	set_tz("UTC");
	k = new_keys(MIDNIGHT_UTC + HOUR_MS);
	pseudo_ids_of(k, mac_a, &d0);
	assert_true(pseudo_rotate(k, MIDNIGHT_UTC + DAY_MS));
	pseudo_ids_of(k, mac_a, &d1);
	assert_true(pseudo_rotate(k, MIDNIGHT_UTC + 2 * DAY_MS + 5));
	pseudo_ids_of(k, mac_a, &d2);
	assert_true(d2.has_day_prev && d2.day_prev == d1.day);
	assert_true(d2.day != d0.day && d2.day != d1.day && d2.day_prev != d0.day);
	/* Several days at once: one rotation. */
	assert_true(pseudo_rotate(k, MIDNIGHT_UTC + 6 * DAY_MS));
	assert_int_equal(pseudo_day_gen(k), 3);
	assert_int_equal(pseudo_day_start(k), MIDNIGHT_UTC + 6 * DAY_MS);
	pseudo_ids_of(k, mac_a, &d0);
	assert_true(d0.day_prev == d2.day);
	pseudo_free(k);
}

/* The repeat key over epochs of 30 local days. */
static void check_repeat_epochs(int64_t epoch_start)
{
	struct pseudo_keys *k;
	struct pseudo_ids e0, e1, x, e2;

	/* The last day of an epoch. */
	k = new_keys(epoch_start - 2 * HOUR_MS);
	pseudo_ids_of(k, mac_a, &e0);
	assert_false(e0.has_rep_prev);
	/* The first day of the next epoch: both keys rotate. */
	assert_true(pseudo_rotate(k, epoch_start));
	pseudo_ids_of(k, mac_a, &e1);
	assert_true(e1.rep != e0.rep);
	assert_true(e1.has_rep_prev && e1.rep_prev == e0.rep);
	assert_true(e1.day_prev == e0.day);
	/* Days 2..30 of the epoch: only the day key changes. */
	for (int d = 1; d < PSEUDO_REPEAT_EPOCH_DAYS; d++) {
		assert_true(pseudo_rotate(k, epoch_start + d * DAY_MS + 7 * HOUR_MS));
		pseudo_ids_of(k, mac_a, &x);
		assert_true(x.rep == e1.rep && x.rep_prev == e0.rep);
	}
	/* 30 days later: the next epoch; the older repeat key is gone. */
	assert_true(pseudo_rotate(k, epoch_start + PSEUDO_REPEAT_EPOCH_DAYS * DAY_MS));
	pseudo_ids_of(k, mac_a, &e2);
	assert_true(e2.rep != e1.rep && e2.rep != e0.rep);
	assert_true(e2.has_rep_prev && e2.rep_prev == e1.rep);
	/* Dropping the previous day key leaves the repeat keys alone. */
	pseudo_drop_prev_day(k);
	pseudo_ids_of(k, mac_a, &x);
	assert_true(x.has_rep_prev && x.rep_prev == e1.rep && x.rep == e2.rep);
	assert_int_equal(pseudo_day_gen(k), PSEUDO_REPEAT_EPOCH_DAYS + 1);
	pseudo_free(k);
}

static void test_repeat_epochs(void **state)
{
	set_tz("UTC");
	check_repeat_epochs(EPOCH_681_UTC);
	/* Epochs follow local days: in Shanghai day 20430 starts 8 h earlier. */
	set_tz("Asia/Shanghai");
	check_repeat_epochs(EPOCH_681_UTC - 8 * HOUR_MS);
	set_tz("UTC");
}

/* A repeat pseudonym does not change at an ordinary midnight. */
static void test_repeat_stable_across_days(void **state)
{
	struct pseudo_keys *k;
	struct pseudo_ids a, b;

	set_tz("UTC");
	k = new_seeded(MIDNIGHT_UTC + HOUR_MS, 7);
	pseudo_ids_of(k, mac_b, &a);
	for (int d = 1; d <= 5; d++) {
		assert_true(pseudo_rotate(k, MIDNIGHT_UTC + d * DAY_MS));
		pseudo_ids_of(k, mac_b, &b);
		assert_true(b.rep == a.rep);
		assert_false(b.has_rep_prev);
	}
	pseudo_free(k);
}

static void test_pseudo_hex(void **state)
{
	char s[17];

	memset(s, 'x', sizeof(s));
	pseudo_hex(0, s);
	assert_string_equal(s, "0000000000000000");
	pseudo_hex(0x0123456789abcdefULL, s);
	assert_string_equal(s, "0123456789abcdef");
	pseudo_hex(UINT64_MAX, s);
	assert_string_equal(s, "ffffffffffffffff");
	pseudo_hex(0xa5, s);
	assert_string_equal(s, "00000000000000a5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_mac_same_ids),
		cmocka_unit_test(test_keys_differ),
		cmocka_unit_test(test_seeded),
		cmocka_unit_test(test_spellings_same_pseudonym),
		cmocka_unit_test(test_rotation_midnight_utc),
		cmocka_unit_test(test_rotation_midnight_shanghai),
		cmocka_unit_test(test_two_rotations),
		cmocka_unit_test(test_repeat_epochs),
		cmocka_unit_test(test_repeat_stable_across_days),
		cmocka_unit_test(test_pseudo_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
