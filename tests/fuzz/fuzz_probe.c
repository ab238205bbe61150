/*
 * fuzz_probe: fuzz target for the Wi-Fi probe line parser (libFuzzer
 * interface; tests/fuzz/fuzz_main.c is the plain driver).
 *
 * The input is parsed as one line, and also spliced into each field of a few
 * valid JSON and CSV lines (the plain driver mutates POS lines, which alone
 * would rarely reach the probe field checks). For every parse:
 *  - the result is a known reason; too_long exactly when over PROBE_LINE_MAX;
 *  - the message is NUL-terminated inside its buffer, empty on success,
 *    otherwise printable ASCII with no MAC-like text (no run of 5 hex
 *    digits, no "hh:h" or "hh-h"), and a smaller buffer gets a prefix of it;
 *  - on success t, rssi and ch are in range, the MAC is neither all zeros
 *    nor a group address, randomized is the local bit, and the sighting
 *    written back as JSON and as CSV in each MAC spelling parses the same;
 *  - on a reject the whole sighting, MAC included, is zero.
 * Any violation aborts.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The counters, under the name the shared driver (fuzz_main.c) reads. */
void fuzz_target_stats(unsigned long *accepted, unsigned long *rejected);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_probe: invariant failed: %s (%s:%d)\n", #cond,       \
				__FILE__, __LINE__);                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MSG_SZ 128

static unsigned long n_accepted, n_rejected;

void fuzz_target_stats(unsigned long *accepted, unsigned long *rejected)
{
	*accepted = n_accepted;
	*rejected = n_rejected;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void check_msg(const char *msg, size_t msgsz, enum probe_reject r)
{
	const char *nul = memchr(msg, '\0', msgsz);
	size_t n, run = 0;

	CHECK(nul != NULL);
	n = (size_t)(nul - msg);
	if (r == PROBE_OK) {
		CHECK(n == 0);
		return;
	}
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(msg[i] >= 0x20 && msg[i] <= 0x7e);
		run = is_hex(msg[i]) ? run + 1 : 0;
		CHECK(run < 5);
		if (i + 3 < n)
			CHECK(!(is_hex(msg[i]) && is_hex(msg[i + 1]) &&
				(msg[i + 2] == ':' || msg[i + 2] == '-') && is_hex(msg[i + 3])));
	}
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

static enum probe_reject parse(const char *line, size_t len, struct probe_sighting *s, char *msg);

/* @m as text: @sep between octets ('\0' for none), @digits lower or upper. */
static void format_mac(const uint8_t *m, char sep, const char *digits, char out[18])
{
	char *p = out;

	for (int i = 0; i < 6; i++) {
		if (i && sep)
			*p++ = sep;
		*p++ = digits[m[i] >> 4];
		*p++ = digits[m[i] & 15];
	}
	*p = '\0';
}

/* The sighting written back in every form parses to itself. */
static void check_roundtrip(const struct probe_sighting *s)
{
	static const struct {
		char sep;
		const char *digits;
	} spell[] = {{':', "0123456789abcdef"}, {'-', "0123456789ABCDEF"}, {0, "0123456789aBcDeF"}};
	struct probe_sighting again;
	char mac[18], line[256], msg[MSG_SZ];

	for (size_t i = 0; i < ARRAY_SIZE(spell); i++) {
		format_mac(s->mac, spell[i].sep, spell[i].digits, mac);
		for (int form = 0; form < 2; form++) {
			if (form == 0)
				snprintf(line, sizeof(line),
					 "{\"rssi\":%d,\"ch\":%d,\"mac\":\"%s\",\"t\":%" PRId64 "}",
					 s->rssi, s->ch, mac, s->t_ms);
			else
				snprintf(line, sizeof(line), "%" PRId64 ",%s,%d,%d,x\r", s->t_ms,
					 mac, s->rssi, s->ch);
			CHECK(parse(line, strlen(line), &again, msg) == PROBE_OK);
			CHECK(memcmp(&again, s, sizeof(again)) == 0);
		}
	}
}

/* Parse a private exact-size copy of @line and check the result. */
static enum probe_reject parse(const char *line, size_t len, struct probe_sighting *s, char *msg)
{
	char *copy = malloc(len ? len : 1);
	enum probe_reject r, r2;
	struct probe_sighting s2;
	char small[8];

	CHECK(copy != NULL);
	memcpy(copy, line, len);
	memset(s, 0xa5, sizeof(*s));
	memset(msg, 'x', MSG_SZ);
	r = probe_parse_line(copy, len, s, msg, MSG_SZ);
	CHECK((unsigned)r < PROBE_R_N);
	CHECK(strcmp(probe_reject_name(r), "unknown") != 0);
	CHECK((r == PROBE_R_TOO_LONG) == (len > PROBE_LINE_MAX));
	check_msg(msg, MSG_SZ, r);
	if (r == PROBE_OK) {
		CHECK(s->t_ms >= PROBE_T_MIN && s->t_ms <= PROBE_T_MAX);
		CHECK(s->rssi >= PROBE_RSSI_MIN && s->rssi <= PROBE_RSSI_MAX);
		CHECK(s->ch >= 1 && s->ch <= 233);
		CHECK(!all_zero(s->mac, sizeof(s->mac)));
		CHECK(!(s->mac[0] & 1));
		CHECK(s->randomized == ((s->mac[0] & 2) != 0));
	} else {
		CHECK(all_zero(s->mac, sizeof(s->mac)));
		CHECK(all_zero(s, sizeof(*s)));
	}
	/* Same answer without a message buffer, and a prefix in a small one. */
	r2 = probe_parse_line(copy, len, &s2, NULL, 0);
	CHECK(r2 == r && memcmp(&s2, s, sizeof(s2)) == 0);
	for (size_t sz = 1; sz <= sizeof(small); sz += 3) {
		memset(small, 'x', sizeof(small));
		r2 = probe_parse_line(copy, len, &s2, small, sz);
		CHECK(r2 == r);
		CHECK(memchr(small, '\0', sz) != NULL);
		CHECK(strncmp(small, msg, strlen(small)) == 0);
	}
	free(copy);
	return r;
}

/* Valid lines with one slot each ('@') that the input replaces. */
static const char *const templates[] = {
	"{\"t\":@,\"mac\":\"da:a1:19:00:11:22\",\"rssi\":-61,\"ch\":6}",
	"{\"t\":1763856000000,\"mac\":\"@\",\"rssi\":-61,\"ch\":6}",
	"{\"t\":1763856000000,\"mac\":@,\"rssi\":-61,\"ch\":6}",
	"{\"t\":1763856000000,\"mac\":\"a4:5e:60:c1:22:33\",\"rssi\":@,\"ch\":6}",
	"{\"t\":1763856000000,\"mac\":\"a4:5e:60:c1:22:33\",\"rssi\":-61,\"ch\":@}",
	"{\"t\":1763856000000,\"ssid\":\"@\",\"mac\":\"a4-5e-60-c1-22-33\",\"rssi\":-61,\"ch\":6}",
	"{\"t\":1763856000000,\"mac\":\"a45e60c12233\",\"rssi\":-61,\"ch\":6,@}",
	"{\"t\":1763856000000,\"mac\":\"a45e60c12233\",\"rssi\":-61,\"ch\":6@",
	"@,a4:5e:60:c1:22:33,-61,6",
	"1763856000000,@,-61,6,ssid",
	"1763856000000,a4:5e:60:c1:22:33,@,6",
	"1763856000000,a4:5e:60:c1:22:33,-61,@",
	"1763856000000,a4:5e:60:c1:22:33,-61,6,@",
	"1763856000000,a4:5e:60:c1:22:33,-61,6@",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_sighting s;
	char msg[MSG_SZ];
	char *line;
	size_t cap = size + 128, piece;
	uint32_t h = 2166136261u;

	if (parse((const char *)data, size, &s, msg) == PROBE_OK) {
		n_accepted++;
		check_roundtrip(&s);
	} else {
		n_rejected++;
	}
	/*
	 * The input in each template's slot: whole when short, otherwise a
	 * piece of it chosen by a hash of the input (fields are short).
	 */
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	piece = size <= 24 ? size : 1 + h % 24;
	line = malloc(cap);
	CHECK(line != NULL);
	for (size_t i = 0; i < ARRAY_SIZE(templates); i++) {
		const char *at = strchr(templates[i], '@');
		size_t head = (size_t)(at - templates[i]), tail = strlen(at + 1), n;
		size_t from = size > piece ? (h >> 8) % (size - piece + 1) : 0;

		memcpy(line, templates[i], head);
		memcpy(line + head, data + from, piece);
		memcpy(line + head + piece, at + 1, tail);
		n = head + piece + tail;
		CHECK(n <= cap);
		if (parse(line, n, &s, msg) == PROBE_OK) {
			n_accepted++;
			check_roundtrip(&s);
		} else {
			n_rejected++;
		}
	}
	free(line);
	return 0;
}
