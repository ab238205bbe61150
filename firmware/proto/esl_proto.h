/*
 * esl_proto: the gateway <-> ESL base-station wire codec (firmware/PROTOCOL.md).
 * One implementation, compiled into the gateway driver (drivers/esl.c), the
 * base-station firmware (firmware/mcu) and its emulator (firmware/emu).
 *
 * Freestanding C: no malloc, no stdio, no libc calls (only <stddef.h>,
 * <stdint.h>, <stdbool.h>). Nothing here allocates or keeps pointers to the
 * caller's memory, except where a decoded message points into the frame it
 * was decoded from (IMG_CHUNK data, CHECKIN entries): those pointers are valid
 * as long as that frame is (see esl_dec_next).
 *
 * Three layers:
 *   - CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
 *     xor; check value 0x29B1 for "123456789");
 *   - frames: esl_frame_encode() into a caller buffer, and a streaming
 *     decoder (struct esl_dec) fed arbitrary byte slices that returns
 *     complete, CRC-checked frames and counts garbage and errors;
 *   - messages: one struct per message type with esl_enc_X() / esl_dec_X().
 *
 * Errors are negative values of the ESL_E* constants below, which equal the
 * Linux errno values of the same name, so the gateway can pass them on as
 * -errno. All multi-byte fields on the wire are little-endian.
 */
#ifndef ESL_PROTO_H
#define ESL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESL_PROTO_VERSION 1 /* what we speak */
#define ESL_PROTO_MIN_VERSION 1 /* oldest peer version we accept */

/* Error codes (negated on return), equal to Linux errno values. */
#define ESL_EAGAIN 11
#define ESL_EINVAL 22
#define ESL_ENOSPC 28
#define ESL_EMSGSIZE 90
#define ESL_ETIMEDOUT 110

/* Framing (PROTOCOL.md §2). */
#define ESL_SOF 0xA5
#define ESL_HDR_LEN 12 /* sof type seq ack sid(2) psid(2) len(2) hcrc(2) */
#define ESL_CRC_LEN 2
#define ESL_OVERHEAD (ESL_HDR_LEN + ESL_CRC_LEN)
#define ESL_CHUNK_MAX 1024 /* image bytes per IMG_CHUNK */
#define ESL_MAX_PAYLOAD 1040 /* largest payload either side sends or accepts */
#define ESL_FRAME_MAX (ESL_OVERHEAD + ESL_MAX_PAYLOAD)

/* Frame types (PROTOCOL.md §4). ACK and NAK are link-only and unsequenced. */
enum esl_type {
	ESL_T_ACK = 0x01,
	ESL_T_NAK = 0x02,
	ESL_T_HELLO = 0x10, /* gw -> bs */
	ESL_T_HELLO_R = 0x11, /* bs -> gw */
	ESL_T_BOOT = 0x12, /* bs -> gw, once per start */
	ESL_T_IMG_BEGIN = 0x20, /* gw -> bs */
	ESL_T_IMG_BEGIN_R = 0x21, /* bs -> gw */
	ESL_T_IMG_CHUNK = 0x22, /* gw -> bs */
	ESL_T_IMG_CHUNK_R = 0x23, /* bs -> gw */
	ESL_T_IMG_ABORT = 0x24, /* gw -> bs */
	ESL_T_FLASH = 0x30, /* gw -> bs */
	ESL_T_PAGE = 0x31, /* gw -> bs */
	ESL_T_RESULT = 0x40, /* bs -> gw */
	ESL_T_CHECKIN = 0x50, /* bs -> gw */
	ESL_T_LABELS_REQ = 0x51, /* gw -> bs */
	ESL_T_ERROR = 0x60, /* either way */
	ESL_T_BATCH = 0x70, /* either way: several small messages in one frame */
};

/* Status / reason codes carried by replies and results (PROTOCOL.md §5). */
enum esl_status {
	ESL_ST_OK = 0, /* accepted / delivered */
	ESL_ST_ALREADY = 1, /* the label already shows this content */
	ESL_ST_IN_PROGRESS = 2, /* station holds the whole image; RESULT follows */
	ESL_ST_BUSY = 3, /* no free transfer slot or pool space: retry later */
	ESL_ST_NO_LABEL = 4, /* no such label on this station */
	ESL_ST_NO_RESPONSE = 5, /* label did not answer over the air */
	ESL_ST_DECODE = 6, /* label could not decode the image */
	ESL_ST_HASH = 7, /* decoded image does not match the content hash */
	ESL_ST_BAD_REQUEST = 8, /* malformed or inconsistent request */
	ESL_ST_NO_XFER = 9, /* chunk for a transfer the station does not have */
	ESL_ST_GAP = 10, /* chunk starts past what was received; see next_offset */
	ESL_ST_ABORTED = 11, /* transfer aborted (IMG_ABORT, superseded) */
	ESL_ST_TYPE_MISMATCH = 12, /* image geometry does not fit the label */
	ESL_ST_UNSUPPORTED = 13, /* unknown message type / version / encoding */
	ESL_ST_TOO_LARGE = 14, /* image larger than the station can hold */
	ESL_ST_LOW_BATTERY = 15, /* label refused: battery too low */
};

/* Capability bits in HELLO / HELLO_R / BOOT. */
#define ESL_CAP_PACKBITS (1u << 0)
#define ESL_CAP_BWR (1u << 1) /* red plane */
#define ESL_CAP_FLASH (1u << 2)
#define ESL_CAP_PAGE (1u << 3)
#define ESL_CAP_LABELS_REQ (1u << 4)
#define ESL_CAP_RESUME (1u << 5)

/* RESULT kinds. */
enum esl_kind { ESL_K_IMAGE = 1, ESL_K_FLASH = 2, ESL_K_PAGE = 3 };

/* LED colours for FLASH (bit mask). */
#define ESL_LED_RED 1u
#define ESL_LED_GREEN 2u
#define ESL_LED_BLUE 4u

/* CHECKIN entry flags. */
#define ESL_CI_REPLAY 1u /* from the station's table (LABELS_REQ), not fresh */
#define ESL_CI_LOW_BATT 2u

/* ---- byte helpers (freestanding replacements for memcpy & co) ---- */

void esl_memcpy(void *dst, const void *src, size_t n);
void esl_memmove(void *dst, const void *src, size_t n);
void esl_memset(void *dst, int c, size_t n);

static inline void esl_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void esl_put32(uint8_t *p, uint32_t v)
{
	esl_put16(p, (uint16_t)v);
	esl_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void esl_put64(uint8_t *p, uint64_t v)
{
	esl_put32(p, (uint32_t)v);
	esl_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t esl_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t esl_get32(const uint8_t *p)
{
	return (uint32_t)esl_get16(p) | ((uint32_t)esl_get16(p + 2) << 16);
}

static inline uint64_t esl_get64(const uint8_t *p)
{
	return (uint64_t)esl_get32(p) | ((uint64_t)esl_get32(p + 4) << 32);
}

/* CRC-16/CCITT-FALSE over @n bytes, continuing from @crc (start with 0xFFFF). */
uint16_t esl_crc16(uint16_t crc, const uint8_t *p, size_t n);

/* ---- frames ---- */

/*
 * One frame. @seq: sender's sequence number (sequenced types only); @ack:
 * the next sequence number the sender expects from its peer; @sid: the
 * sender's link session id; @psid: the peer session @ack refers to (0: none
 * yet). @payload points at @len bytes (into the decoder's buffer for decoded
 * frames).
 */
struct esl_frame {
	uint8_t type;
	uint8_t seq;
	uint8_t ack;
	uint16_t sid;
	uint16_t psid;
	uint16_t len;
	const uint8_t *payload;
};

/* True for frame types that carry a sequence number and are acknowledged. */
static inline bool esl_type_sequenced(uint8_t type)
{
	return type != ESL_T_ACK && type != ESL_T_NAK;
}

/*
 * Encode @f into @out (capacity @cap). Returns the frame length
 * (ESL_OVERHEAD + f->len), -ESL_EMSGSIZE if f->len > ESL_MAX_PAYLOAD or the
 * frame does not fit in @cap, -ESL_EINVAL if @f->payload is NULL with a
 * non-zero length.
 */
int esl_frame_encode(const struct esl_frame *f, uint8_t *out, size_t cap);

/* Decoder counters: every byte pushed ends up in a frame or in garbage. */
struct esl_dec_stats {
	uint32_t frames; /* good frames returned */
	uint32_t bytes; /* bytes pushed */
	uint32_t garbage; /* bytes skipped while searching for a frame */
	uint32_t hdr_err; /* SOF followed by a header with a bad header CRC */
	uint32_t crc_err; /* good header, bad frame CRC */
	uint32_t oversize; /* good header, length over the decoder's maximum */
};

/*
 * Streaming decoder. Holds at most one frame's worth of bytes; never
 * allocates. Resync rule: whenever what starts at the SOF under the cursor is
 * not a good frame (bad header CRC, oversize length, bad frame CRC), that SOF
 * byte is counted as garbage and the search restarts at the next byte, so a
 * real frame hidden inside garbage or inside a damaged frame is still found.
 */
struct esl_dec {
	uint16_t n; /* bytes in buf */
	uint16_t hold; /* length of the frame last returned, dropped on next call */
	uint16_t expired; /* the first `expired` bytes of buf may not wait for more */
	uint16_t max_payload;
	struct esl_dec_stats st;
	uint8_t buf[ESL_FRAME_MAX];
};

/* Reset @d; frames with a payload over @max_payload (<= ESL_MAX_PAYLOAD) are refused. */
void esl_dec_init(struct esl_dec *d, uint16_t max_payload);

/*
 * Copy bytes from @p (@n of them) into the decoder. Returns how many were
 * taken (fewer than @n when the buffer is full: call esl_dec_next() until it
 * returns 0, then push the rest). Invalidates the frame last returned.
 */
size_t esl_dec_push(struct esl_dec *d, const uint8_t *p, size_t n);

/*
 * Return the next complete, CRC-checked frame in *@f (1), or 0 when more
 * bytes are needed. f->payload points into @d and is valid until the next
 * esl_dec_push/esl_dec_next/esl_dec_init on @d.
 */
int esl_dec_next(struct esl_dec *d, struct esl_frame *f);

/* True when bytes are buffered that do not form a complete frame yet. */
bool esl_dec_pending(const struct esl_dec *d);

/*
 * The line went quiet in the middle of a frame: the bytes buffered now will
 * not be completed (a frame cut short by a glitch or a peer reset). Without
 * this, a cut-off header announcing a long frame would swallow the next
 * frames until that many bytes arrived. After this call esl_dec_next()
 * treats an incomplete frame starting in those bytes as garbage and rescans,
 * returning any complete frames found inside.
 */
void esl_dec_expire(struct esl_dec *d);

/* ---- messages (PROTOCOL.md §4) ----
 *
 * esl_enc_X(out, cap, m) writes the payload of message X and returns its
 * length, or -ESL_EMSGSIZE when it does not fit in @cap (or a variable part
 * is too long). esl_dec_X(p, n, m) parses a payload: 0, or -ESL_EINVAL when
 * it is shorter than the fixed layout or inconsistent. Extra bytes after a
 * fixed layout are ignored (newer peers may append fields).
 */

#define ESL_HELLO_LEN 8
struct esl_hello { /* HELLO, gw -> bs */
	uint8_t proto; /* ESL_PROTO_VERSION of the gateway */
	uint8_t min_proto; /* oldest version the gateway accepts */
	uint16_t window; /* frames the gateway may have in flight */
	uint32_t caps; /* ESL_CAP_* the gateway uses */
};
int esl_enc_hello(uint8_t *out, size_t cap, const struct esl_hello *m);
int esl_dec_hello(const uint8_t *p, size_t n, struct esl_hello *m);

#define ESL_HELLO_R_LEN 24
struct esl_hello_r { /* HELLO_R and BOOT, bs -> gw */
	uint8_t proto; /* ESL_PROTO_VERSION of the station */
	uint8_t status; /* ESL_ST_OK, or ESL_ST_UNSUPPORTED (version) */
	uint16_t fw_version; /* major << 8 | minor */
	uint32_t caps; /* ESL_CAP_* */
	uint32_t boot_id; /* new random value at every station start */
	uint16_t max_chunk; /* largest IMG_CHUNK data the station takes */
	uint8_t buffers; /* image transfer slots */
	uint8_t window; /* frames the station accepts in flight */
	uint32_t pool_bytes; /* image pool size (sum of encoded images held) */
	uint16_t labels; /* labels in the station's table */
	uint16_t max_labels;
};
int esl_enc_hello_r(uint8_t *out, size_t cap, const struct esl_hello_r *m);
int esl_dec_hello_r(const uint8_t *p, size_t n, struct esl_hello_r *m);

#define ESL_IMG_BEGIN_LEN 30
struct esl_img_begin { /* IMG_BEGIN, gw -> bs */
	uint32_t label;
	uint16_t xfer; /* gateway-chosen transfer tag, echoed in replies */
	uint8_t enc; /* ESL_IMG_ENC_RAW / ESL_IMG_ENC_PACKBITS */
	uint8_t type; /* label type the image was rendered for; 0: any */
	uint64_t hash; /* esl_img_hash() of the decoded image */
	uint16_t width;
	uint16_t height;
	uint8_t planes;
	uint32_t raw_len; /* esl_img_bytes(width, height, planes) */
	uint32_t enc_len; /* bytes that follow in IMG_CHUNKs */
};
int esl_enc_img_begin(uint8_t *out, size_t cap, const struct esl_img_begin *m);
int esl_dec_img_begin(const uint8_t *p, size_t n, struct esl_img_begin *m);

#define ESL_IMG_BEGIN_R_LEN 16
struct esl_img_begin_r { /* IMG_BEGIN_R, bs -> gw */
	uint32_t label;
	uint16_t xfer;
	uint8_t status; /* OK ALREADY IN_PROGRESS BUSY BAD_REQUEST TOO_LARGE TYPE_MISMATCH */
	uint32_t next_offset; /* first byte the station wants (resume) */
	uint16_t retry_ms; /* BUSY: wait at least this long */
};
int esl_enc_img_begin_r(uint8_t *out, size_t cap, const struct esl_img_begin_r *m);
int esl_dec_img_begin_r(const uint8_t *p, size_t n, struct esl_img_begin_r *m);

#define ESL_IMG_CHUNK_HDR 6
struct esl_img_chunk { /* IMG_CHUNK, gw -> bs */
	uint16_t xfer;
	uint32_t offset; /* into the encoded image */
	uint16_t len; /* 1 .. ESL_CHUNK_MAX */
	const uint8_t *data;
};
int esl_enc_img_chunk(uint8_t *out, size_t cap, const struct esl_img_chunk *m);
int esl_dec_img_chunk(const uint8_t *p, size_t n, struct esl_img_chunk *m);

#define ESL_IMG_CHUNK_R_LEN 8
struct esl_img_chunk_r { /* IMG_CHUNK_R, bs -> gw */
	uint16_t xfer;
	uint8_t status; /* OK NO_XFER GAP BAD_REQUEST */
	uint8_t done; /* 1: the whole image is in; RESULT follows */
	uint32_t next_offset;
};
int esl_enc_img_chunk_r(uint8_t *out, size_t cap, const struct esl_img_chunk_r *m);
int esl_dec_img_chunk_r(const uint8_t *p, size_t n, struct esl_img_chunk_r *m);

#define ESL_IMG_ABORT_LEN 6
struct esl_img_abort { /* IMG_ABORT, gw -> bs */
	uint32_t label;
	uint16_t xfer;
};
int esl_enc_img_abort(uint8_t *out, size_t cap, const struct esl_img_abort *m);
int esl_dec_img_abort(const uint8_t *p, size_t n, struct esl_img_abort *m);

#define ESL_FLASH_LEN 12
struct esl_flash { /* FLASH, gw -> bs */
	uint32_t label;
	uint16_t req; /* gateway-chosen request tag, echoed in RESULT */
	uint8_t colour; /* ESL_LED_* mask */
	uint8_t count; /* 1..255 flashes */
	uint16_t on_ms;
	uint16_t off_ms;
};
int esl_enc_flash(uint8_t *out, size_t cap, const struct esl_flash *m);
int esl_dec_flash(const uint8_t *p, size_t n, struct esl_flash *m);

#define ESL_PAGE_LEN 10
struct esl_page { /* PAGE, gw -> bs */
	uint32_t label;
	uint16_t req;
	uint8_t page; /* 0 = main image */
	uint16_t duration_s; /* 0 = stay */
};
int esl_enc_page(uint8_t *out, size_t cap, const struct esl_page *m);
int esl_dec_page(const uint8_t *p, size_t n, struct esl_page *m);

#define ESL_RESULT_LEN 18
struct esl_result { /* RESULT, bs -> gw */
	uint32_t label;
	uint16_t tag; /* xfer (image) or req (flash, page) */
	uint8_t kind; /* ESL_K_* */
	uint8_t status; /* ESL_ST_OK or the failure reason */
	uint64_t hash; /* image: its content hash; else 0 */
	uint8_t attempts; /* air attempts made */
};
int esl_enc_result(uint8_t *out, size_t cap, const struct esl_result *m);
int esl_dec_result(const uint8_t *p, size_t n, struct esl_result *m);

#define ESL_CHECKIN_HDR 2
#define ESL_CHECKIN_ENTRY 24
#define ESL_CHECKIN_MAX ((ESL_MAX_PAYLOAD - ESL_CHECKIN_HDR) / ESL_CHECKIN_ENTRY) /* 43 */
struct esl_checkin { /* one CHECKIN entry, bs -> gw */
	uint32_t label;
	uint8_t type; /* enum esl_label_type */
	uint8_t page; /* page shown */
	uint16_t fw; /* label firmware major << 8 | minor */
	uint16_t battery_mv;
	int8_t temp_c;
	int8_t rssi; /* dBm, as heard by the station */
	uint8_t lqi; /* 0..255 */
	uint8_t flags; /* ESL_CI_* */
	uint16_t age_s; /* seconds since the station last heard the label */
	uint64_t hash; /* content hash shown; 0: blank / unknown */
};
/* Encode @count (1..ESL_CHECKIN_MAX) entries of @v as one CHECKIN payload. */
int esl_enc_checkin(uint8_t *out, size_t cap, const struct esl_checkin *v, unsigned count);
/* Number of entries in a CHECKIN payload, or -ESL_EINVAL if the length does not match. */
int esl_dec_checkin_count(const uint8_t *p, size_t n);
/* Entry @i (< count) of a CHECKIN payload already checked with esl_dec_checkin_count. */
void esl_dec_checkin_at(const uint8_t *p, unsigned i, struct esl_checkin *m);

#define ESL_ERROR_LEN 4
struct esl_error { /* ERROR, either way: a frame the peer could not use */
	uint8_t type; /* offending frame type */
	uint8_t seq; /* its sequence number */
	uint8_t code; /* ESL_ST_UNSUPPORTED or ESL_ST_BAD_REQUEST */
};
int esl_enc_error(uint8_t *out, size_t cap, const struct esl_error *m);
int esl_dec_error(const uint8_t *p, size_t n, struct esl_error *m);

/*
 * BATCH: several messages in one frame, each as type u8, len u8, payload
 * (len <= 255; no ACK, NAK or nested BATCH). The station uses it for its
 * replies and results so that a handful of link frames in flight carry many
 * of them (PROTOCOL.md §4.12).
 */
#define ESL_BATCH_REC_HDR 2
#define ESL_BATCH_REC_MAX 255

/*
 * Append message (@type, @payload, @len) to the BATCH payload in @out, which
 * holds @used bytes and has room for @cap. Returns the new length, or
 * -ESL_EMSGSIZE when it does not fit or @len > ESL_BATCH_REC_MAX,
 * -ESL_EINVAL for a type that cannot be batched.
 */
int esl_batch_add(uint8_t *out, size_t cap, size_t used, uint8_t type, const uint8_t *payload,
		  uint16_t len);

/*
 * Iterate over the messages of the BATCH frame @batch: start with *@off = 0.
 * Returns 1 with the next message in *@f (its header fields copied from
 * @batch, payload pointing into it), 0 after the last, -ESL_EINVAL when the
 * rest is malformed (a record running past the end, or a type that cannot
 * be batched).
 */
int esl_batch_next(const struct esl_frame *batch, size_t *off, struct esl_frame *f);

/* Static names for logs: "IMG_BEGIN", "HASH", ...; "?" when unknown. */
const char *esl_type_name(uint8_t type);
const char *esl_status_name(uint8_t status);

#endif
