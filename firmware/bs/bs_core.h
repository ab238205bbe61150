/*
 * bs_core: the ESL base-station logic, the same code in the Cortex-M firmware
 * (firmware/mcu) and in the host emulator (firmware/emu). Freestanding C, no
 * heap: everything lives in one caller-owned struct bs (static on the MCU).
 *
 * It speaks PROTOCOL.md to the gateway over esl_link: answers HELLO, sends
 * BOOT with a fresh boot_id at start, keeps a table of labels known from their
 * check-ins, receives images into a fixed pool of 1 KiB blocks (a transfer
 * slot per image, chained blocks, no fragmentation) with resume, hands whole
 * images, LED flashes and page switches to the radio (struct bs_radio_ops),
 * and reports the radio's results and the labels' check-ins back.
 *
 * Threading: single-threaded. The radio reports back by calling
 * bs_radio_done() / bs_radio_checkin() from the same context that calls
 * bs_input() / bs_poll() (the MCU main loop, not an interrupt handler).
 * Nothing here blocks; all output goes through the write function given in
 * struct bs_config, which must copy the bytes and return at once.
 */
#ifndef BS_CORE_H
#define BS_CORE_H

#include "esl_image.h"
#include "esl_link.h"
#include "esl_proto.h"

#define BS_FW_VERSION 0x0100 /* 1.0 */
#define BS_BLOCK_SIZE 1024u
#ifndef BS_POOL_BLOCKS
#define BS_POOL_BLOCKS 128u /* 128 KiB of image data */
#endif
#ifndef BS_MAX_XFERS
#define BS_MAX_XFERS 48u /* images held at once (receiving or with the radio) */
#endif
#ifndef BS_MAX_LABELS
#define BS_MAX_LABELS 2048u
#endif
#define BS_CHECKIN_Q 128u /* check-ins waiting to go to the gateway */
#define BS_OUTQ 64u /* small replies / results waiting for the link window */
#define BS_OUTQ_MSG 32u /* largest queued message payload */
#define BS_CHECKIN_LINGER_MS 50u /* wait this long to batch check-ins */
#define BS_XFER_IDLE_MS 30000u /* a stalled transfer may be evicted after this */
#define BS_BUSY_RETRY_MS 500u
#define BS_LINK_WINDOW 4
#define BS_LINK_RTO_MS 250
#define BS_LINK_RETRIES 8

/* What the station hands the radio for one image (the data stays in the pool). */
struct bs_image {
	uint32_t label;
	uint64_t hash;
	uint8_t enc; /* ESL_IMG_ENC_* */
	uint8_t type; /* requested label type, 0: any */
	uint16_t width;
	uint16_t height;
	uint8_t planes;
	uint32_t raw_len;
	uint32_t enc_len;
};

struct bs;

/*
 * The radio. Each call starts an over-the-air operation and returns at once:
 * ESL_ST_OK when accepted (its outcome is reported later with bs_radio_done),
 * or an ESL_ST_* failure code that is reported to the gateway right away.
 * image(): the encoded bytes stay readable with bs_image_read(@handle) until
 * bs_radio_done(@handle); the radio may read them in pieces.
 */
struct bs_radio_ops {
	uint8_t (*image)(void *arg, uint16_t handle, const struct bs_image *img);
	uint8_t (*flash)(void *arg, uint16_t handle, const struct esl_flash *f);
	uint8_t (*page)(void *arg, uint16_t handle, const struct esl_page *p);
};

struct bs_config {
	esl_write_fn write; /* bytes to the gateway */
	void *write_arg;
	const struct bs_radio_ops *radio;
	void *radio_arg;
	uint32_t boot_id; /* new random value at every start (also seeds the link sid) */
	uint16_t byte_us; /* wire time of a byte, 10^7 / baud */
	uint32_t caps; /* ESL_CAP_* this build supports */
};

struct bs_stats {
	uint32_t hellos;
	uint32_t images_begun;
	uint32_t images_resumed;
	uint32_t images_complete; /* handed to the radio */
	uint32_t delivered;
	uint32_t failed;
	uint32_t busy; /* BEGIN answered BUSY */
	uint32_t chunks;
	uint32_t chunk_errors; /* NO_XFER, GAP, BAD_REQUEST */
	uint32_t evicted; /* stalled transfers dropped for room */
	uint32_t checkins;
	uint32_t checkins_dropped; /* queue overflow */
	uint32_t labels_evicted; /* label table full */
	uint32_t bad_frames; /* malformed or unknown messages (ERROR sent) */
	uint32_t outq_full; /* replies dropped: should stay 0 */
	uint32_t link_failures;
};

struct bs_xfer {
	uint8_t state; /* BS_X_* (bs_core.c) */
	uint8_t kind; /* ESL_K_* */
	uint16_t tag; /* gateway's xfer / req tag */
	uint16_t first_block; /* chain in the pool */
	uint16_t nblocks;
	uint32_t received; /* bytes in, from 0 without holes */
	uint32_t last_ms;
	struct bs_image img;
};

struct bs_label {
	uint32_t id; /* 0: free */
	uint64_t hash; /* content shown, as last reported */
	uint32_t last_ms;
	uint16_t battery_mv;
	uint16_t fw;
	uint8_t type;
	uint8_t page;
	int8_t temp_c;
	int8_t rssi;
	uint8_t lqi;
	uint8_t flags;
};

struct bs_outmsg {
	uint8_t type;
	uint8_t len;
	uint8_t payload[BS_OUTQ_MSG];
};

struct bs {
	struct bs_config cfg;
	struct esl_link link;
	struct bs_stats st;
	uint32_t now;
	/* replies and results, in order */
	struct bs_outmsg outq[BS_OUTQ];
	uint16_t outq_head, outq_n;
	/* check-ins, batched */
	struct esl_checkin ciq[BS_CHECKIN_Q];
	uint16_t ciq_head, ciq_n;
	uint32_t ciq_since; /* when the oldest queued check-in arrived */
	int32_t replay; /* next label-table index to replay (LABELS_REQ), -1: none */
	uint8_t scratch[ESL_MAX_PAYLOAD]; /* payload being built (keeps MCU stacks small) */
	struct esl_checkin batch[ESL_CHECKIN_MAX];
	/* images and commands */
	struct bs_xfer xfer[BS_MAX_XFERS];
	uint16_t block_next[BS_POOL_BLOCKS];
	uint16_t free_block; /* head of the free list, BS_POOL_BLOCKS: none */
	uint16_t free_blocks;
	uint8_t pool[BS_POOL_BLOCKS][BS_BLOCK_SIZE];
	struct bs_label labels[BS_MAX_LABELS];
	uint16_t nlabels;
};

/*
 * Start the station in @bs (all previous state is lost, as after a reset) and
 * queue the BOOT frame. @cfg is copied; cfg->radio must outlive @bs.
 */
void bs_init(struct bs *bs, const struct bs_config *cfg, uint32_t now);

/*
 * Bytes from the gateway, any slice. All are taken: when the station is
 * backed up (its reply queue nearly full) the link drops requests unacked and
 * the gateway resends them after its timeout. Sends replies as the link
 * window allows.
 */
void bs_input(struct bs *bs, const uint8_t *p, size_t n, uint32_t now);

/* Timers: retransmits, acks, check-in batches, queued replies. Call often. */
void bs_poll(struct bs *bs, uint32_t now);

/* Milliseconds until bs_poll() has work (0: now; -1: nothing until input). */
int32_t bs_timeout(const struct bs *bs, uint32_t now);

/*
 * The radio finished the operation started on @handle with @status
 * (ESL_ST_OK: delivered) after @attempts tries over the air. Frees the
 * image's pool blocks and queues the RESULT. Unknown handles are ignored.
 */
void bs_radio_done(struct bs *bs, uint16_t handle, uint8_t status, uint8_t attempts);

/* A label checked in: update the table and queue the report to the gateway. */
void bs_radio_checkin(struct bs *bs, const struct esl_checkin *ci);

/*
 * Copy @n bytes at @off of the encoded image of @handle into @dst. Returns
 * 0, or -ESL_EINVAL for an unknown handle or a range outside the image.
 */
int bs_image_read(const struct bs *bs, uint16_t handle, uint32_t off, uint8_t *dst, uint32_t n);

/* The table entry of label @id, or NULL. */
const struct bs_label *bs_label_find(const struct bs *bs, uint32_t id);

/* Transfers in use (receiving or with the radio). */
unsigned bs_xfers_active(const struct bs *bs);

#endif
