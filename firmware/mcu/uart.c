/*
 * uart: nRF52840 UART0, interrupt-driven rings (see uart.h).
 *
 * Rings are single-producer, single-consumer: for RX the interrupt advances
 * rx_head and the main loop rx_tail; for TX the main loop advances tx_head
 * and the interrupt tx_tail. Indices run freely and are masked on use.
 */
#include "uart.h"

#include "nrf52840.h"

static uint8_t rx_ring[UART_RX_RING];
static uint8_t tx_ring[UART_TX_RING];
static volatile uint32_t rx_head, rx_tail, tx_head, tx_tail;
static volatile uint32_t tx_busy; /* a byte is in TXD, TXDRDY will follow */
static struct uart_stats st;

void uart_init(uint32_t baud_reg)
{
	/* TX: output, idle high; RX: input with its buffer connected */
	P0_OUTSET = 1u << UART_PIN_TX;
	P0_DIRSET = 1u << UART_PIN_TX;
	P0_PIN_CNF(UART_PIN_RX) = 0;
	UART0_PSEL_TXD = UART_PIN_TX;
	UART0_PSEL_RXD = UART_PIN_RX;
	UART0_PSEL_RTS = UART_PSEL_DISCONNECTED;
	UART0_PSEL_CTS = UART_PSEL_DISCONNECTED;
	UART0_CONFIG = 0; /* no parity, one stop bit, no flow control */
	UART0_BAUDRATE = baud_reg;
	UART0_ENABLE = UART_ENABLE_ON;
	UART0_EVENTS_RXDRDY = 0;
	UART0_EVENTS_TXDRDY = 0;
	UART0_EVENTS_ERROR = 0;
	UART0_INTENSET = UART_INT_RXDRDY | UART_INT_TXDRDY | UART_INT_ERROR;
	NVIC_IPR(UART0_IRQn) = 2u << 5; /* priority 2 of 0..7 (3 bits, MSB-aligned) */
	NVIC_ISER0 = 1u << UART0_IRQn;
	UART0_TASKS_STARTRX = 1;
	UART0_TASKS_STARTTX = 1;
}

void UARTE0_UART0_IRQHandler(void)
{
	if (UART0_EVENTS_ERROR) {
		UART0_EVENTS_ERROR = 0;
		UART0_ERRORSRC = UART0_ERRORSRC; /* write 1s to clear */
		st.errors++;
	}
	while (UART0_EVENTS_RXDRDY) {
		uint8_t b;

		UART0_EVENTS_RXDRDY = 0;
		(void)UART0_EVENTS_RXDRDY; /* read back: the clear must land before we return */
		b = (uint8_t)UART0_RXD;
		if (rx_head - rx_tail < UART_RX_RING) {
			rx_ring[rx_head & (UART_RX_RING - 1)] = b;
			rx_head++;
		} else {
			st.rx_overruns++;
		}
	}
	if (UART0_EVENTS_TXDRDY) {
		UART0_EVENTS_TXDRDY = 0;
		(void)UART0_EVENTS_TXDRDY;
		if (tx_tail != tx_head) {
			UART0_TXD = tx_ring[tx_tail & (UART_TX_RING - 1)];
			tx_tail++;
		} else {
			tx_busy = 0;
		}
	}
}

size_t uart_read(uint8_t *dst, size_t cap)
{
	size_t n = 0;

	while (n < cap && rx_tail != rx_head) {
		dst[n++] = rx_ring[rx_tail & (UART_RX_RING - 1)];
		rx_tail++;
	}
	return n;
}

size_t uart_rx_available(void)
{
	return rx_head - rx_tail;
}

int uart_write(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	if (n > UART_TX_RING - (tx_head - tx_tail)) {
		st.tx_full++;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		tx_ring[(tx_head + i) & (UART_TX_RING - 1)] = p[i];
	tx_head += (uint32_t)n;
	/* idle transmitter: hand it the first byte, the interrupt does the rest */
	irq_disable();
	if (!tx_busy && tx_tail != tx_head) {
		tx_busy = 1;
		UART0_TXD = tx_ring[tx_tail & (UART_TX_RING - 1)];
		tx_tail++;
	}
	irq_enable();
	return 0;
}

const struct uart_stats *uart_stats(void)
{
	return &st;
}
