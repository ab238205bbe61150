/*
 * main: the base-station firmware for the Nordic nRF52840 (Cortex-M4F at
 * 64 MHz, 256 KiB RAM). Starts the 64 MHz crystal (the UART's baud clock),
 * a 1 ms SysTick clock, UART0 at 115200 8N1, draws a boot_id from the
 * hardware RNG, and runs bs_core (the same logic as the emulator) in a
 * superloop: bytes from the UART ring -> bs_input, bs_poll, the radio (a
 * stub, see radio_stub.h), then sleep (WFI) until the next interrupt (a UART
 * byte or the next millisecond tick). All state is static; no heap.
 */
#include "bs_core.h"
#include "nrf52840.h"
#include "radio_stub.h"
#include "uart.h"

static struct bs station; /* ~210 KiB: image pool, label table, link */
static volatile uint32_t ticks_ms;

void SysTick_Handler(void)
{
	ticks_ms++;
}

static uint32_t random32(void)
{
	uint32_t v = 0;

	RNG_TASKS_START = 1;
	for (int i = 0; i < 4; i++) {
		while (!RNG_EVENTS_VALRDY)
			;
		RNG_EVENTS_VALRDY = 0;
		v = (v << 8) | (RNG_VALUE & 0xFF);
	}
	RNG_TASKS_STOP = 1;
	return v ? v : 1;
}

static void clocks_init(void)
{
	CLOCK_EVENTS_HFCLKSTARTED = 0;
	CLOCK_TASKS_HFCLKSTART = 1;
	while (!CLOCK_EVENTS_HFCLKSTARTED)
		;
	SYST_RVR = CPU_HZ / 1000u - 1u;
	SYST_CVR = 0;
	SYST_CSR = 7; /* processor clock, interrupt, enable */
}

int main(void)
{
	struct bs_config cfg = {
		.write = uart_write,
		.radio = &radio_stub_ops,
		.byte_us = 87, /* 115200 baud, 10 bits per byte */
		.caps = ESL_CAP_PACKBITS | ESL_CAP_BWR | ESL_CAP_FLASH | ESL_CAP_PAGE |
			ESL_CAP_LABELS_REQ | ESL_CAP_RESUME,
	};
	uint8_t buf[256];

	clocks_init();
	uart_init(UART_BAUD_115200);
	cfg.boot_id = random32();
	bs_init(&station, &cfg, ticks_ms);
	radio_stub_reset(&station);
	for (;;) {
		uint32_t now = ticks_ms;
		size_t n;

		while ((n = uart_read(buf, sizeof(buf))) > 0)
			bs_input(&station, buf, n, now);
		radio_stub_poll(now);
		bs_poll(&station, now);
		/* sleep until an interrupt; a byte that arrived meanwhile pends one, so none is missed */
		irq_disable();
		if (!uart_rx_available())
			cpu_wfi();
		irq_enable();
	}
}
