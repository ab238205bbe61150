/*
 * test_probe: the Wi-Fi probe line parser (DESIGN §5.2, drivers/probe.h).
 * Both forms (JSON and CSV) with every MAC spelling, CRLF, then each reject
 * reason: malformed, all-zero, multicast and broadcast MACs, RSSI, channel
 * and time out of range or not integers, missing fields, syntax; SSIDs with
 * commas, quotes, escapes, invalid UTF-8 and a newline that split the line;
 * a 10 kB line; timestamps going backwards; and that no reject message ever
 * carries the MAC in any spelling (messages are logged).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probe.h"
#include "util.h"

#define T0 "1763856000000" /* 2025-11-23T00:00:00Z */
#define T0_MS 1763856000000LL
#define MAC "a4:5e:60:c1:22:33"
static const uint8_t mac_bytes[6] = {0xa4, 0x5e, 0x60, 0xc1, 0x22, 0x33};

/* {"t":T,"mac":"M","rssi":R,"ch":C}; a NULL part leaves its member out. */
static const char *jline(char *buf, size_t sz, const char *t, const char *mac, const char *rssi,
			 const char *ch)
{
	struct dynbuf d;

	dynbuf_init(&d, sz - 1);
	dynbuf_adds(&d, "{");
	if (t)
		dynbuf_addf(&d, "\"t\":%s,", t);
	if (mac)
		dynbuf_addf(&d, "\"mac\":\"%s\",", mac);
	if (rssi)
		dynbuf_addf(&d, "\"rssi\":%s,", rssi);
	if (ch)
		dynbuf_addf(&d, "\"ch\":%s,", ch);
	if (d.len > 1)
		d.len--; /* the last comma */
	dynbuf_adds(&d, "}");
	str_copy(buf, sz, d.buf);
	dynbuf_free(&d);
	return buf;
}

/* T,M,R,C[,SSID] */
static const char *cline(char *buf, size_t sz, const char *t, const char *mac, const char *rssi,
			 const char *ch, const char *ssid)
{
	snprintf(buf, sz, "%s,%s,%s,%s%s%s", t, mac, rssi, ch, ssid ? "," : "", ssid ? ssid : "");
	return buf;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A message may be logged: it holds no MAC in any spelling. Checks the test
 * MAC (any two adjacent octets, bare, with ':' or '-', any case) and, for any
 * MAC, that there is no run of 5+ hex digits and no "hh:h"/"hh-h" shape.
 */
static void assert_private(const char *msg)
{
	size_t n = strlen(msg), run = 0;

	for (int i = 0; i < 5; i++) {
		char s[8];

		snprintf(s, sizeof(s), "%02x%02x", mac_bytes[i], mac_bytes[i + 1]);
		if (strcasestr(msg, s))
			fail_msg("message \"%s\" holds \"%s\"", msg, s);
		snprintf(s, sizeof(s), "%02x:%02x", mac_bytes[i], mac_bytes[i + 1]);
		if (strcasestr(msg, s))
			fail_msg("message \"%s\" holds \"%s\"", msg, s);
		snprintf(s, sizeof(s), "%02x-%02x", mac_bytes[i], mac_bytes[i + 1]);
		if (strcasestr(msg, s))
			fail_msg("message \"%s\" holds \"%s\"", msg, s);
	}
	for (size_t i = 0; i < n; i++) {
		run = is_hex(msg[i]) ? run + 1 : 0;
		if (run >= 5)
			fail_msg("message \"%s\" has a run of hex digits", msg);
		if (i + 3 < n && is_hex(msg[i]) && is_hex(msg[i + 1]) &&
		    (msg[i + 2] == ':' || msg[i + 2] == '-') && is_hex(msg[i + 3]))
			fail_msg("message \"%s\" has a MAC-like shape", msg);
		if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e)
			fail_msg("message has a non-printable byte");
	}
}

static void parse_ok_n(const char *line, size_t len, struct probe_sighting *s)
{
	char msg[128] = "unset";
	enum probe_reject r;

	r = probe_parse_line(line, len, s, msg, sizeof(msg));
	if (r != PROBE_OK)
		fail_msg("rejected (%s): %s\nline: %.200s", probe_reject_name(r), msg, line);
}

static void parse_ok(const char *line, struct probe_sighting *s)
{
	parse_ok_n(line, strlen(line), s);
}

/* @line parses to the test MAC with the given fields. */
static void expect_sighting(const char *line, int64_t t, int rssi, int ch)
{
	struct probe_sighting s;

	parse_ok(line, &s);
	assert_int_equal(s.t_ms, t);
	assert_memory_equal(s.mac, mac_bytes, 6);
	assert_int_equal(s.rssi, rssi);
	assert_int_equal(s.ch, ch);
	assert_false(s.randomized);
}

static void expect_reject_n(const char *line, size_t len, enum probe_reject want,
			    const char *phrase)
{
	struct probe_sighting s;
	char msg[128];
	enum probe_reject r;
	static const uint8_t zero[6];

	memset(&s, 0xa5, sizeof(s));
	memset(msg, 'x', sizeof(msg));
	r = probe_parse_line(line, len, &s, msg, sizeof(msg));
	assert_non_null(memchr(msg, '\0', sizeof(msg)));
	if (r != want || !strstr(msg, phrase))
		fail_msg("got %s \"%s\", want %s with \"%s\"\nline: %.200s", probe_reject_name(r),
			 msg, probe_reject_name(want), phrase, line);
	assert_memory_equal(s.mac, zero, 6);
	assert_private(msg);
}

static void expect_reject(const char *line, enum probe_reject want, const char *phrase)
{
	expect_reject_n(line, strlen(line), want, phrase);
}

static void test_json_valid(void **state)
{
	char b[512];

	expect_sighting(jline(b, sizeof(b), T0, MAC, "-61", "6"), T0_MS, -61, 6);
	expect_sighting("{\"ch\":11,\"rssi\":-70,\"mac\":\"" MAC "\",\"t\":" T0 "}", T0_MS, -70,
			11);
	/* Other members of every scalar kind are skipped. */
	expect_sighting("{\"t\":" T0 ",\"seq\":12345,\"mac\":\"" MAC "\",\"ssid\":\"Cafe\","
			"\"rssi\":-61,\"noise\":-95.5e0,\"ch\":6,\"ht\":true,\"vht\":false,"
			"\"vendor\":null,\"ssid2\":\"\"}",
			T0_MS, -61, 6);
	/* JSON whitespace between tokens, around the object. */
	expect_sighting(" {\t\"t\" : " T0 " , \"mac\" : \"" MAC "\" ,\"rssi\":-61 ,\"ch\": 6 } ",
			T0_MS, -61, 6);
	expect_sighting(jline(b, sizeof(b), T0, MAC, "-120", "1"), T0_MS, -120, 1);
	expect_sighting(jline(b, sizeof(b), T0, MAC, "-1", "233"), T0_MS, -1, 233);
	expect_sighting(jline(b, sizeof(b), T0, MAC, "-45", "165"), T0_MS, -45, 165);
}

static void test_csv_valid(void **state)
{
	char b[512];

	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", NULL), T0_MS, -61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", "Cafe"), T0_MS, -61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", ""), T0_MS, -61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-120", "233", NULL), T0_MS, -120, 233);
	/* Leading zeros are harmless digits in CSV. */
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-061", "006", NULL), T0_MS, -61, 6);
}

static void test_mac_spellings(void **state)
{
	static const char *const spellings[] = {
		"a4:5e:60:c1:22:33", "a4-5e-60-c1-22-33", "a45e60c12233",      "A4:5E:60:C1:22:33",
		"A4-5E-60-C1-22-33", "A45E60C12233",	  "a4:5E:60:c1:22:33",
	};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		expect_sighting(jline(b, sizeof(b), T0, spellings[i], "-61", "6"), T0_MS, -61, 6);
		expect_sighting(cline(b, sizeof(b), T0, spellings[i], "-61", "6", "x"), T0_MS, -61,
				6);
	}
}

static void test_mixed_separators(void **state)
{
	static const char *const bad[] = {"a4:5e-60:c1:22:33", "a4:5e:60:c1:22-33",
					  "a4-5e-60-c1-22:33", "a4:5e:60:c1:22.33"};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_reject(jline(b, sizeof(b), T0, bad[i], "-61", "6"), PROBE_R_MAC,
			      "mac: malformed");
		expect_reject(cline(b, sizeof(b), T0, bad[i], "-61", "6", NULL), PROBE_R_MAC,
			      "mac: malformed");
	}
}

static void test_crlf(void **state)
{
	char b[512];

	snprintf(b, sizeof(b), "{\"t\":%s,\"mac\":\"%s\",\"rssi\":-61,\"ch\":6}\r", T0, MAC);
	expect_sighting(b, T0_MS, -61, 6);
	snprintf(b, sizeof(b), "%s,%s,-61,6\r", T0, MAC);
	expect_sighting(b, T0_MS, -61, 6);
	snprintf(b, sizeof(b), "%s,%s,-61,6,Cafe\r", T0, MAC);
	expect_sighting(b, T0_MS, -61, 6);
	/* Only one \r is the line end: a second one belongs to the channel. */
	snprintf(b, sizeof(b), "%s,%s,-61,6\r\r", T0, MAC);
	expect_reject(b, PROBE_R_CHANNEL, "ch: not an integer");
	expect_reject("\r", PROBE_R_SYNTAX, "empty line");
}

static void test_malformed_macs(void **state)
{
	static const char *const bad[] = {
		"a4:5e:60:c1:22", /* 5 octets */
		"a4:5e:60:c1:22:33:44", /* 7 octets */
		"a4:5e:60:c1:22:3g", /* not hex */
		"a4:5e:60:c1:22:3", /* one digit short */
		"a4:5e:60:c1:22:333", /* one digit long */
		"a45e60c1223", /* 11 digits */
		"a45e60c122334", /* 13 digits */
		"a45e60c1223g", /* 12 chars, not hex */
		"a45:e6:0c:12:23:3a", /* 17 chars, separators misplaced */
		"a45e.60c1.2233", /* Cisco dots */
		"a4.5e.60.c1.22.33", /* dots */
		"a4 5e 60 c1 22 33", /* spaces */
		" a4:5e:60:c1:22:33", /* padded */
		"a4:5e:60:c1:22:33 ",
		"",
		"0x:a4:5e:60:c1:22",
		"\\u0061\\u0034:5e:60:c1:22:33", /* JSON escapes are not decoded */
	};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_reject(jline(b, sizeof(b), T0, bad[i], "-61", "6"), PROBE_R_MAC,
			      "mac: malformed");
		expect_reject(cline(b, sizeof(b), T0, bad[i], "-61", "6", NULL), PROBE_R_MAC,
			      "mac: malformed");
	}
	/* Not a string in JSON. */
	expect_reject("{\"t\":" T0 ",\"mac\":123456789012,\"rssi\":-61,\"ch\":6}", PROBE_R_MAC,
		      "mac: not a string");
	expect_reject("{\"t\":" T0 ",\"mac\":null,\"rssi\":-61,\"ch\":6}", PROBE_R_MAC,
		      "mac: not a string");
	/* A malformed MAC with the group bit is malformed, not multicast. */
	expect_reject(jline(b, sizeof(b), T0, "ff:ff:ff:ff:ff:fg", "-61", "6"), PROBE_R_MAC,
		      "mac: malformed");
}

static void test_zero_multicast_broadcast(void **state)
{
	static const char *const zero[] = {"00:00:00:00:00:00", "00-00-00-00-00-00",
					   "000000000000"};
	static const char *const group[] = {
		"ff:ff:ff:ff:ff:ff", /* broadcast */
		"FFFFFFFFFFFF",	     "01:00:5e:00:00:fb", /* IPv4 multicast (mDNS) */
		"33-33-00-00-00-01", /* IPv6 multicast */
		"a5:5e:60:c1:22:33", /* group bit on an ordinary OUI */
		"03:00:00:00:00:00", /* group + local */
	};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(zero); i++) {
		expect_reject(jline(b, sizeof(b), T0, zero[i], "-61", "6"), PROBE_R_MAC,
			      "mac: all zeros");
		expect_reject(cline(b, sizeof(b), T0, zero[i], "-61", "6", NULL), PROBE_R_MAC,
			      "mac: all zeros");
	}
	for (size_t i = 0; i < ARRAY_SIZE(group); i++) {
		expect_reject(jline(b, sizeof(b), T0, group[i], "-61", "6"), PROBE_R_MULTICAST,
			      "multicast");
		expect_reject(cline(b, sizeof(b), T0, group[i], "-61", "6", NULL),
			      PROBE_R_MULTICAST, "multicast");
	}
}

static void test_randomized(void **state)
{
	static const struct {
		const char *mac;
		uint8_t b0;
		bool randomized;
	} cases[] = {
		{"da:a1:19:00:11:22", 0xda, true},  {"02:00:00:00:00:01", 0x02, true},
		{"DA-A1-19-00-11-22", 0xda, true},  {"f6a11900aabb", 0xf6, true},
		{"a4:5e:60:c1:22:33", 0xa4, false}, {"00:00:00:00:00:01", 0x00, false},
		{"3c:22:fb:00:00:01", 0x3c, false},
	};
	struct probe_sighting s;
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		parse_ok(jline(b, sizeof(b), T0, cases[i].mac, "-61", "6"), &s);
		assert_int_equal(s.mac[0], cases[i].b0);
		assert_int_equal(s.randomized, cases[i].randomized);
		parse_ok(cline(b, sizeof(b), T0, cases[i].mac, "-61", "6", NULL), &s);
		assert_int_equal(s.mac[0], cases[i].b0);
		assert_int_equal(s.randomized, cases[i].randomized);
	}
}

static void test_rssi(void **state)
{
	static const char *const range[] = {"-121",
					    "0",
					    "-0",
					    "1",
					    "30",
					    "-1000",
					    "-99999999999999999999999999",
					    "99999999999999999999"};
	static const char *const notint[] = {"-61.5", "-61.0", "-6e1", "-", "+5"};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(range); i++) {
		expect_reject(jline(b, sizeof(b), T0, MAC, range[i], "6"), PROBE_R_RSSI,
			      "rssi: out of range");
		expect_reject(cline(b, sizeof(b), T0, MAC, range[i], "6", NULL), PROBE_R_RSSI,
			      "rssi: out of range");
	}
	for (size_t i = 0; i < 3; i++) {
		expect_reject(jline(b, sizeof(b), T0, MAC, notint[i], "6"), PROBE_R_RSSI,
			      "rssi: not an integer");
	}
	for (size_t i = 0; i < ARRAY_SIZE(notint); i++) {
		expect_reject(cline(b, sizeof(b), T0, MAC, notint[i], "6", NULL), PROBE_R_RSSI,
			      "rssi: not an integer");
	}
	/* Whitespace around a CSV field, an empty field, a JSON string or null. */
	expect_reject(cline(b, sizeof(b), T0, MAC, " -61", "6", NULL), PROBE_R_RSSI,
		      "rssi: not an integer");
	expect_reject(cline(b, sizeof(b), T0, MAC, "-61 ", "6", NULL), PROBE_R_RSSI,
		      "rssi: not an integer");
	expect_reject(cline(b, sizeof(b), T0, MAC, "", "6", NULL), PROBE_R_RSSI,
		      "rssi: not an integer");
	expect_reject(jline(b, sizeof(b), T0, MAC, "\"-61\"", "6"), PROBE_R_RSSI,
		      "rssi: not a number");
	expect_reject(jline(b, sizeof(b), T0, MAC, "null", "6"), PROBE_R_RSSI,
		      "rssi: not a number");
}

static void test_channel(void **state)
{
	static const char *const range[] = {"0", "234", "-1", "1000", "99999999999999999999"};
	char b[512];

	for (size_t i = 0; i < ARRAY_SIZE(range); i++) {
		expect_reject(jline(b, sizeof(b), T0, MAC, "-61", range[i]), PROBE_R_CHANNEL,
			      "ch: out of range");
		expect_reject(cline(b, sizeof(b), T0, MAC, "-61", range[i], NULL), PROBE_R_CHANNEL,
			      "ch: out of range");
	}
	expect_reject(jline(b, sizeof(b), T0, MAC, "-61", "6.0"), PROBE_R_CHANNEL,
		      "ch: not an integer");
	expect_reject(cline(b, sizeof(b), T0, MAC, "-61", "6 ", NULL), PROBE_R_CHANNEL,
		      "ch: not an integer");
	expect_reject(cline(b, sizeof(b), T0, MAC, "-61", "", "ssid"), PROBE_R_CHANNEL,
		      "ch: not an integer");
	expect_reject(jline(b, sizeof(b), T0, MAC, "-61", "\"6\""), PROBE_R_CHANNEL,
		      "ch: not a number");
}

static void test_time(void **state)
{
	char b[512], t[32];
	struct probe_sighting s;

	/* Fractions and exponents are not integers, even when whole. */
	expect_reject(jline(b, sizeof(b), T0 ".5", MAC, "-61", "6"), PROBE_R_TIME,
		      "t: not an integer");
	expect_reject(jline(b, sizeof(b), T0 ".0", MAC, "-61", "6"), PROBE_R_TIME,
		      "t: not an integer");
	expect_reject(jline(b, sizeof(b), "1.763856e12", MAC, "-61", "6"), PROBE_R_TIME,
		      "t: not an integer");
	expect_reject(cline(b, sizeof(b), T0 ".5", MAC, "-61", "6", NULL), PROBE_R_TIME,
		      "t: not an integer");
	expect_reject(cline(b, sizeof(b), "1763856000000x", MAC, "-61", "6", NULL), PROBE_R_TIME,
		      "t: not an integer");
	expect_reject(jline(b, sizeof(b), "\"" T0 "\"", MAC, "-61", "6"), PROBE_R_TIME,
		      "t: not a number");
	/* The range: 2000-01-01 .. 2100-01-01, both ends included. */
	snprintf(t, sizeof(t), "%lld", PROBE_T_MIN);
	parse_ok(jline(b, sizeof(b), t, MAC, "-61", "6"), &s);
	assert_int_equal(s.t_ms, PROBE_T_MIN);
	snprintf(t, sizeof(t), "%lld", PROBE_T_MAX);
	parse_ok(cline(b, sizeof(b), t, MAC, "-61", "6", NULL), &s);
	assert_int_equal(s.t_ms, PROBE_T_MAX);
	snprintf(t, sizeof(t), "%lld", PROBE_T_MIN - 1);
	expect_reject(jline(b, sizeof(b), t, MAC, "-61", "6"), PROBE_R_TIME, "t: out of range");
	expect_reject(cline(b, sizeof(b), t, MAC, "-61", "6", NULL), PROBE_R_TIME,
		      "t: out of range");
	snprintf(t, sizeof(t), "%lld", PROBE_T_MAX + 1);
	expect_reject(jline(b, sizeof(b), t, MAC, "-61", "6"), PROBE_R_TIME, "t: out of range");
	expect_reject(cline(b, sizeof(b), t, MAC, "-61", "6", NULL), PROBE_R_TIME,
		      "t: out of range");
	/* Seconds instead of milliseconds, negative, zero, huge. */
	expect_reject(cline(b, sizeof(b), "1763856000", MAC, "-61", "6", NULL), PROBE_R_TIME,
		      "t: out of range");
	expect_reject(jline(b, sizeof(b), "-" T0, MAC, "-61", "6"), PROBE_R_TIME,
		      "t: out of range");
	expect_reject(jline(b, sizeof(b), "0", MAC, "-61", "6"), PROBE_R_TIME, "t: out of range");
	expect_reject(jline(b, sizeof(b), "123456789012345678901234567890", MAC, "-61", "6"),
		      PROBE_R_TIME, "t: out of range");
}

static void test_missing_fields(void **state)
{
	char b[512];

	expect_reject(jline(b, sizeof(b), NULL, MAC, "-61", "6"), PROBE_R_TIME, "t: missing");
	expect_reject(jline(b, sizeof(b), T0, NULL, "-61", "6"), PROBE_R_MAC, "mac: missing");
	expect_reject(jline(b, sizeof(b), T0, MAC, NULL, "6"), PROBE_R_RSSI, "rssi: missing");
	expect_reject(jline(b, sizeof(b), T0, MAC, "-61", NULL), PROBE_R_CHANNEL, "ch: missing");
	expect_reject("{}", PROBE_R_TIME, "t: missing");
	expect_reject("{\"ssid\":\"x\"}", PROBE_R_TIME, "t: missing");
	/* Keys are case-sensitive. */
	expect_reject("{\"T\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}", PROBE_R_TIME,
		      "t: missing");
	/* CSV needs four fields. */
	expect_reject(T0 "," MAC ",-61", PROBE_R_SYNTAX, "csv: fewer than 4 fields");
	expect_reject(T0 "," MAC, PROBE_R_SYNTAX, "csv: fewer than 4 fields");
	expect_reject(T0, PROBE_R_SYNTAX, "csv: fewer than 4 fields");
	/* Empty CSV fields: each is that field's reject. */
	expect_reject(T0 ",,-61,6", PROBE_R_MAC, "mac: malformed");
}

static void test_syntax(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"hello",
		"-1763856000000," MAC ",-61,6", /* neither a digit nor '{' first */
		"{",
		"{\"t\":" T0,
		"{\"t\":" T0 ",}",
		"{\"t\":" T0 " \"mac\":\"" MAC "\"}",
		"{\"t\" " T0 "}",
		"{t:" T0 "}",
		"{'t':" T0 "}",
		"[" T0 ",\"" MAC "\",-61,6]",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}x",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}{}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"x\":{\"y\":1}}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"x\":[1]}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-061,\"ch\":6}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61.,\"ch\":6}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":+61,\"ch\":6}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"ok\":tru}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"s\":\"\\x\"}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"s\":\"\\u12g4\"}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"s\":\"\\u12\"}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"s\":\"abc\\\"}",
		/* A required member twice, even with the same value. */
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"t\":" T0 "}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}",
		"{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,\"ch\":1}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_reject(bad[i], PROBE_R_SYNTAX, i < 1 ? "empty line" : "");
	/* An unknown member twice is fine; so is an escaped quote in its key. */
	expect_sighting("{\"t\":" T0 ",\"x\":1,\"x\":2,\"a\\\"b\":0,\"mac\":\"" MAC
			"\",\"rssi\":-61,\"ch\":6}",
			T0_MS, -61, 6);
	/* A NUL byte between tokens. */
	expect_reject_n("{\"t\":" T0 ",\0\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}",
			sizeof("{\"t\":" T0 ",\0\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}") - 1,
			PROBE_R_SYNTAX, "json:");
}

static void test_ssid_content(void **state)
{
	char b[512];

	/* CSV: the SSID is the rest of the line, commas, quotes and all. */
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", "Cafe, Bar & \"Grill\""), T0_MS,
			-61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", ",,,,"), T0_MS, -61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", "{\"t\":1}"), T0_MS, -61, 6);
	expect_sighting(cline(b, sizeof(b), T0, MAC, "-61", "6", "ff:ff:ff:ff:ff:ff,-200,0"), T0_MS,
			-61, 6);
	/* JSON: escapes inside a skipped string. */
	expect_sighting("{\"t\":" T0 ",\"ssid\":\"say \\\"hi\\\", ok\",\"mac\":\"" MAC
			"\",\"rssi\":-61,\"ch\":6}",
			T0_MS, -61, 6);
	expect_sighting("{\"t\":" T0 ",\"ssid\":\"back\\\\\",\"mac\":\"" MAC
			"\",\"rssi\":-61,\"ch\":6}",
			T0_MS, -61, 6);
	expect_sighting("{\"t\":" T0 ",\"ssid\":\"\\u00e9\\n\\t\\/\\b\\f\\r\",\"mac\":\"" MAC
			"\",\"rssi\":-61,\"ch\":6}",
			T0_MS, -61, 6);
	expect_sighting("{\"t\":" T0 ",\"ssid\":\"}{,:[]\",\"mac\":\"" MAC
			"\",\"rssi\":-61,\"ch\":6}",
			T0_MS, -61, 6);
}

static void test_invalid_utf8(void **state)
{
	static const char csv[] = T0 "," MAC ",-61,6,\xff\xfe\xc0\xaf\xed\xa0\x80\x80\0tail";
	static const char json[] = "{\"t\":" T0 ",\"ssid\":\"\xff\xc0\xaf\xed\xa0\x80\x01\x1f"
				   "\",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6}";
	struct probe_sighting s;

	parse_ok_n(csv, sizeof(csv) - 1, &s);
	assert_memory_equal(s.mac, mac_bytes, 6);
	parse_ok_n(json, sizeof(json) - 1, &s);
	assert_memory_equal(s.mac, mac_bytes, 6);
	/* Outside a string, such bytes are syntax. */
	expect_reject("{\xff\"t\":" T0 "}", PROBE_R_SYNTAX, "json:");
}

/*
 * A sniffer that does not escape an SSID with a newline splits one line in
 * two: the first part is whole in CSV (its SSID cut short) and a broken
 * string in JSON; the second part is never mistaken for a sighting.
 */
static void test_split_line(void **state)
{
	static const char csv[] = T0 "," MAC ",-61,6,Guest\nWiFi, 2.4 GHz";
	static const char json[] = "{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,"
				   "\"ssid\":\"Guest\nWiFi\"}";
	struct probe_sighting s;
	const char *nl = strchr(csv, '\n');

	parse_ok_n(csv, (size_t)(nl - csv), &s);
	assert_int_equal(s.t_ms, T0_MS);
	assert_memory_equal(s.mac, mac_bytes, 6);
	expect_reject(nl + 1, PROBE_R_SYNTAX, "");
	nl = strchr(json, '\n');
	expect_reject_n(json, (size_t)(nl - json), PROBE_R_SYNTAX, "unterminated string");
	expect_reject(nl + 1, PROBE_R_SYNTAX, "");
	/* A second part that starts with a digit is still no sighting. */
	expect_reject("5G,x", PROBE_R_SYNTAX, "csv: fewer than 4 fields");
	expect_reject("5 GHz\"}", PROBE_R_SYNTAX, "csv: fewer than 4 fields");
}

static void test_too_long(void **state)
{
	size_t big = 10 * 1024;
	char *line = malloc(big + 1);
	static const char head[] = "{\"t\":" T0 ",\"mac\":\"" MAC "\",\"rssi\":-61,\"ch\":6,"
				   "\"ssid\":\"";
	struct probe_sighting s;
	size_t n;

	assert_non_null(line);
	/* 10 kB of a valid JSON line, then exactly the limit, then one past. */
	for (int round = 0; round < 4; round++) {
		n = round == 0 ? big : round == 1 ? PROBE_LINE_MAX : PROBE_LINE_MAX + 1;
		memcpy(line, head, sizeof(head) - 1);
		memset(line + sizeof(head) - 1, 'A', n - (sizeof(head) - 1) - 2);
		memcpy(line + n - 2, "\"}", 2);
		if (round == 3) { /* the limit plus a \r: still too long (counted first) */
			n = PROBE_LINE_MAX + 1;
			memcpy(line + n - 3, "\"}\r", 3);
		}
		line[n] = '\0';
		if (round == 1) {
			parse_ok_n(line, n, &s);
			assert_memory_equal(s.mac, mac_bytes, 6);
		} else {
			expect_reject_n(line, n, PROBE_R_TOO_LONG, "line: over 4096 bytes");
		}
	}
	/* Same for CSV: the SSID makes the size. */
	n = (size_t)snprintf(line, big + 1, "%s,%s,-61,6,", T0, MAC);
	memset(line + n, 'x', big - n);
	line[big] = '\0';
	expect_reject_n(line, big, PROBE_R_TOO_LONG, "over 4096");
	parse_ok_n(line, PROBE_LINE_MAX, &s);
	free(line);
}

/* Each line parses on its own: ordering is the sensing layer's job. */
static void test_time_backwards(void **state)
{
	static const char *const lines[] = {
		"1763856005000," MAC ",-61,6",
		"{\"t\":1763856004000,\"mac\":\"" MAC "\",\"rssi\":-62,\"ch\":6}",
		"1763856004000," MAC ",-63,6",
		"1763855000000," MAC ",-64,6,earlier by 1000 s",
		"1763856006000," MAC ",-65,6",
	};
	static const int64_t want[] = {1763856005000LL, 1763856004000LL, 1763856004000LL,
				       1763855000000LL, 1763856006000LL};

	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		expect_sighting(lines[i], want[i], -61 - (int)i, 6);
}

/*
 * Every reject of a line carrying the MAC, in each spelling and in the SSID,
 * leaves no trace of it in the message (expect_reject checks each one).
 */
static void test_no_mac_in_messages(void **state)
{
	static const char *const spell[] = {"a4:5e:60:c1:22:33", "A4-5E-60-C1-22-33",
					    "a45e60c12233"};
	char b[512], big[PROBE_LINE_MAX + 64];

	for (size_t i = 0; i < ARRAY_SIZE(spell); i++) {
		const char *m = spell[i];
		char bad[32];

		expect_reject(jline(b, sizeof(b), "1.5", m, "-61", "6"), PROBE_R_TIME, "t:");
		expect_reject(jline(b, sizeof(b), T0, m, "-200", "6"), PROBE_R_RSSI, "rssi:");
		expect_reject(jline(b, sizeof(b), T0, m, "-61", "0"), PROBE_R_CHANNEL, "ch:");
		expect_reject(cline(b, sizeof(b), "1", m, "-61", "6", m), PROBE_R_TIME, "t:");
		expect_reject(cline(b, sizeof(b), T0, m, "x", "6", m), PROBE_R_RSSI, "rssi:");
		expect_reject(cline(b, sizeof(b), T0, m, "-61", "x", m), PROBE_R_CHANNEL, "ch:");
		/* Broken MACs built from it. */
		snprintf(bad, sizeof(bad), "%sx", m);
		expect_reject(jline(b, sizeof(b), T0, bad, "-61", "6"), PROBE_R_MAC, "mac:");
		snprintf(bad, sizeof(bad), "%.*s", (int)strlen(m) - 1, m);
		expect_reject(cline(b, sizeof(b), T0, bad, "-61", "6", NULL), PROBE_R_MAC, "mac:");
		snprintf(bad, sizeof(bad), "%s", m);
		bad[0] = 'a';
		bad[1] = '5'; /* group bit */
		expect_reject(cline(b, sizeof(b), T0, bad, "-61", "6", NULL), PROBE_R_MULTICAST,
			      "mac:");
		/* Syntax errors right after the MAC, and in a string holding it. */
		snprintf(b, sizeof(b), "{\"t\":%s,\"mac\":\"%s\" \"rssi\":-61}", T0, m);
		expect_reject(b, PROBE_R_SYNTAX, "json:");
		snprintf(b, sizeof(b), "{\"t\":%s,\"mac\":\"%s", T0, m);
		expect_reject(b, PROBE_R_SYNTAX, "json:");
		snprintf(b, sizeof(b), "{\"t\":%s,\"ssid\":\"%s\\q\"}", T0, m);
		expect_reject(b, PROBE_R_SYNTAX, "json:");
		snprintf(b, sizeof(b), "%s,%s", T0, m);
		expect_reject(b, PROBE_R_SYNTAX, "csv:");
		snprintf(b, sizeof(b), "%s", m);
		expect_reject(b, PROBE_R_SYNTAX, "json:");
		/* Too long, with the MAC at both ends. */
		memset(big, ' ', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, m, strlen(m));
		memcpy(big + sizeof(big) - 1 - strlen(m), m, strlen(m));
		expect_reject(big, PROBE_R_TOO_LONG, "line:");
	}
}

static void test_reject_names(void **state)
{
	static const char *const want[PROBE_R_N] = {
		"ok", "syntax", "mac", "multicast", "rssi", "time", "channel", "too_long",
	};

	for (int r = 0; r < PROBE_R_N; r++)
		assert_string_equal(probe_reject_name((enum probe_reject)r), want[r]);
	assert_string_equal(probe_reject_name(PROBE_R_N), "unknown");
}

static void test_msg_buffer(void **state)
{
	struct probe_sighting s;
	char small[6];
	char b[512];

	/* No message buffer at all. */
	assert_int_equal(probe_parse_line(T0 ",x,-61,6", strlen(T0 ",x,-61,6"), &s, NULL, 0),
			 PROBE_R_MAC);
	jline(b, sizeof(b), T0, MAC, "-61", "6");
	assert_int_equal(probe_parse_line(b, strlen(b), &s, NULL, 0), PROBE_OK);
	assert_memory_equal(s.mac, mac_bytes, 6);
	/* A short one: truncated, terminated. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(probe_parse_line("{}", 2, &s, small, sizeof(small)), PROBE_R_TIME);
	assert_string_equal(small, "t: mi");
	/* A reject after an accepted line clears the previous MAC. */
	parse_ok(jline(b, sizeof(b), T0, MAC, "-61", "6"), &s);
	assert_int_equal(probe_parse_line("{}", 2, &s, small, sizeof(small)), PROBE_R_TIME);
	assert_int_equal(s.mac[0] | s.mac[1] | s.mac[2] | s.mac[3] | s.mac[4] | s.mac[5], 0);
	/* An accepted line leaves an empty message. */
	memset(small, 'x', sizeof(small));
	parse_ok(jline(b, sizeof(b), T0, MAC, "-61", "6"), &s);
	assert_int_equal(probe_parse_line(b, strlen(b), &s, small, sizeof(small)), PROBE_OK);
	assert_string_equal(small, "");
	/* NULL line. */
	assert_int_equal(probe_parse_line(NULL, 0, &s, small, sizeof(small)), PROBE_R_SYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_csv_valid),
		cmocka_unit_test(test_mac_spellings),
		cmocka_unit_test(test_mixed_separators),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_malformed_macs),
		cmocka_unit_test(test_zero_multicast_broadcast),
		cmocka_unit_test(test_randomized),
		cmocka_unit_test(test_rssi),
		cmocka_unit_test(test_channel),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_ssid_content),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_split_line),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_time_backwards),
		cmocka_unit_test(test_no_mac_in_messages),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_msg_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
