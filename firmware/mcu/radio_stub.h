/*
 * radio_stub: the radio behind struct bs_radio_ops on the MCU build. A STUB:
 * there is no radio driver yet (the nRF52840's 2.4 GHz RADIO peripheral and
 * the label air protocol are future work). Every operation is accepted and,
 * RADIO_STUB_DELAY_MS later, reported ESL_ST_NO_RESPONSE ("label not
 * responding") after one attempt; no label ever checks in. This keeps the
 * gateway-visible behaviour honest: nothing is claimed delivered.
 */
#ifndef MCU_RADIO_STUB_H
#define MCU_RADIO_STUB_H

#include <stdint.h>

#include "bs_core.h"

#define RADIO_STUB_DELAY_MS 200u

extern const struct bs_radio_ops radio_stub_ops;

/* Attach to @bs (after bs_init) and forget pending operations. */
void radio_stub_reset(struct bs *bs);

/* Report operations whose time has come. */
void radio_stub_poll(uint32_t now);

#endif
