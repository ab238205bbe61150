/*
 * uart: register-level driver for the nRF52840's UART0 (legacy UART, no
 * DMA), 8N1, no flow control, the base station's link to the gateway.
 * Interrupt-driven both ways: the RXDRDY interrupt puts each received byte
 * in a receive ring (UART_RX_RING bytes; on overflow the byte is dropped and
 * counted, and the link's CRC and retransmit recover), the TXDRDY interrupt
 * feeds the next byte from a transmit ring. Single instance, static state,
 * no heap. Pins are those of the nRF52840 DK's interface MCU: TX P0.06,
 * RX P0.08.
 */
#ifndef MCU_UART_H
#define MCU_UART_H

#include <stddef.h>
#include <stdint.h>

#define UART_RX_RING 4096u /* power of two */
#define UART_TX_RING 8192u /* power of two: a few frames */
#define UART_PIN_TX 6u
#define UART_PIN_RX 8u

struct uart_stats {
	uint32_t rx_overruns; /* bytes lost to a full receive ring */
	uint32_t errors; /* framing / parity / break / overrun (ERRORSRC) */
	uint32_t tx_full; /* writes refused for lack of room */
};

/* Configure pins and UART0 for @baud_reg (UART_BAUD_*), enable its interrupt. */
void uart_init(uint32_t baud_reg);

/* Move up to @cap received bytes to @dst; returns how many (0: none waiting). */
size_t uart_read(uint8_t *dst, size_t cap);

/* Bytes waiting in the receive ring. */
size_t uart_rx_available(void);

/*
 * Queue @n bytes for sending; all or nothing. Returns 0, or -1 when the
 * transmit ring lacks room (the caller's link layer retransmits later).
 * Matches esl_write_fn (@arg unused).
 */
int uart_write(void *arg, const uint8_t *p, size_t n);

const struct uart_stats *uart_stats(void);

#endif
