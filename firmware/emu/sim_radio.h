/*
 * sim_radio: the emulator's radio and the labels it talks to. Implements
 * struct bs_radio_ops for bs_core: each operation waits for the label to wake
 * (uniform 0..wake_ms), then occupies the one shared air channel for its
 * bytes at air_kbps; an air transfer is lost with probability loss (then
 * retried after the label's next wake, up to `tries` attempts, then reported
 * ESL_ST_NO_RESPONSE). A delivered image is decoded (PackBits or raw) and
 * checked against its content hash by the label, which then shows it (its
 * framebuffer) or reports ESL_ST_DECODE / ESL_ST_HASH / ESL_ST_TYPE_MISMATCH.
 * Labels check in every checkin_ms (+-25% jitter; the first check-in of each
 * comes within min(checkin_ms, 10 s) of start: 2,000 labels at once would
 * need more than the whole serial line) with battery, temperature,
 * RSSI/LQI and the hash they show; every update drains drain_mv.
 *
 * The labels outlive a simulated station reset (sim_reset drops only the
 * operations in flight, as a rebooting station would). Host-only; all memory
 * is allocated in sim_new and freed by sim_free.
 */
#ifndef ESL_SIM_RADIO_H
#define ESL_SIM_RADIO_H

#include <stdint.h>

#include "bs_core.h"

struct sim_cfg {
	uint32_t checkin_ms;
	uint32_t wake_ms;
	uint32_t air_kbps;
	double loss_pct;
	uint32_t drain_mv;
	uint32_t tries; /* air attempts per operation */
	uint64_t seed;
};

struct sim_label {
	uint32_t id;
	uint8_t type;
	uint16_t width, height;
	uint8_t planes;
	uint8_t *fb; /* esl_img_bytes() bytes */
	uint64_t hash; /* what it shows; 0: blank */
	uint16_t battery_mv;
	int8_t temp_c;
	int8_t rssi;
	uint8_t lqi;
	uint8_t page;
	uint16_t fw;
	uint32_t next_checkin;
	uint32_t updates, flashes, pages, failures;
};

struct sim_stats {
	uint64_t air_bytes;
	uint32_t air_tx, air_lost;
	uint32_t delivered, failed, checkins;
};

struct sim;

/*
 * Labels from @spec: "N" (N labels of type 1) or "N:T,N:T,..." with ids from
 * @first_id upward. Returns NULL with a message in @err (capacity @errcap)
 * for a bad spec or out of memory. Free with sim_free().
 */
struct sim *sim_new(const struct sim_cfg *cfg, const char *spec, uint32_t first_id, char *err,
		    size_t errcap);
void sim_free(struct sim *s);

/* The radio ops to give bs_init, with the sim as radio_arg. */
extern const struct bs_radio_ops sim_radio_ops;

/* Attach to the station @bs (after every bs_init) and drop operations in flight. */
void sim_reset(struct sim *s, struct bs *bs, uint32_t now);

/* Run the simulation up to @now: wake-ups, air transfers, results, check-ins. */
void sim_poll(struct sim *s, uint32_t now);

/* Milliseconds until sim_poll() has work (never negative). */
int32_t sim_timeout(const struct sim *s, uint32_t now);

void sim_set_loss(struct sim *s, double pct);
double sim_loss(const struct sim *s);
struct sim_label *sim_label(struct sim *s, uint32_t id);
size_t sim_label_count(const struct sim *s);
const struct sim_stats *sim_stats(const struct sim *s);
/* Operations waiting for a label or on the air. */
unsigned sim_pending(const struct sim *s);

#endif
