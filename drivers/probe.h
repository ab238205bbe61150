/*
 * probe: the Wi-Fi probe sniffer line parser (DESIGN §5.2), a pure function
 * from one line to one sighting or one reject reason.
 *
 * Accepted lines (a trailing \r is allowed, the newline is already gone):
 *   JSON  {"t":<epoch ms>,"mac":"aa:bb:cc:dd:ee:ff","rssi":-61,"ch":6}
 *         (members in any order; other members such as "ssid" are skipped
 *         unread, so their content, valid UTF-8 or not, does not matter)
 *   CSV   <epoch ms>,<mac>,<rssi>,<channel>[,<ssid>]
 *         (the SSID is everything after the fourth comma: commas, quotes and
 *         any bytes are fine; it is never read or kept)
 * MACs as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff, either case,
 * one separator style per MAC.
 *
 * Privacy: messages never contain the MAC, the SSID or any other text of the
 * line, only field names and reasons, so they can be logged.
 */
#ifndef SHELF_PROBE_H
#define SHELF_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_LINE_MAX 4096 /* longer lines are rejected (too_long) */
#define PROBE_RSSI_MIN -120 /* dBm; outside [MIN, MAX] is an rssi reject */
#define PROBE_RSSI_MAX -1
#define PROBE_T_MIN 946684800000LL /* 2000-01-01T00:00:00Z */
#define PROBE_T_MAX 4102444800000LL /* 2100-01-01T00:00:00Z */

enum probe_reject {
	PROBE_OK = 0,
	PROBE_R_SYNTAX, /* not a JSON object or CSV line of the shape above */
	PROBE_R_MAC, /* malformed MAC, or all zeros */
	PROBE_R_MULTICAST, /* group bit set (multicast or broadcast source) */
	PROBE_R_RSSI, /* missing or outside PROBE_RSSI_MIN..PROBE_RSSI_MAX */
	PROBE_R_TIME, /* missing, not an integer, or outside PROBE_T_MIN..MAX */
	PROBE_R_CHANNEL, /* missing or outside 1..233 */
	PROBE_R_TOO_LONG, /* over PROBE_LINE_MAX bytes */
	PROBE_R_N
};

/* "syntax", "mac", "multicast", "rssi", "time", "channel", "too_long" ("ok" for PROBE_OK). */
const char *probe_reject_name(enum probe_reject r);

struct probe_sighting {
	int64_t t_ms; /* the sniffer's clock, epoch ms */
	uint8_t mac[6]; /* raw: the caller replaces it by pseudonyms at once */
	int rssi; /* dBm */
	int ch;
	bool randomized; /* locally administered bit (0x02 of the first octet) */
};

/*
 * Parse @line (@len bytes, no newline). Returns PROBE_OK with @out filled,
 * or the reason with a short message in @msg ("rssi: 12 is outside
 * -120..-1" is NOT allowed: values are not echoed; "rssi: out of range" is).
 * Blank lines are PROBE_R_SYNTAX; callers skip them before calling.
 */
enum probe_reject probe_parse_line(const char *line, size_t len, struct probe_sighting *out,
				   char *msg, size_t msgsz);

#endif
