/*
 * startup: the nRF52840 vector table and reset handler. Reset_Handler copies
 * .data from flash to RAM, zeroes .bss and calls main(); every exception or
 * interrupt without a handler of its own parks in Default_Handler. Symbols
 * come from nrf52840.ld.
 */
#include <stdint.h>

#include "nrf52840.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

#define NUM_IRQS 48 /* nRF52840 peripheral interrupts 0..47 */

__attribute__((section(".isr_vector"), used)) void (*const vector_table[16 + NUM_IRQS])(void) = {
	[0] = (void (*)(void))(&_estack),
	[1] = Reset_Handler,
	[2] = Default_Handler, /* NMI */
	[3] = Default_Handler, /* HardFault */
	[4] = Default_Handler, /* MemManage */
	[5] = Default_Handler, /* BusFault */
	[6] = Default_Handler, /* UsageFault */
	[11] = Default_Handler, /* SVCall */
	[12] = Default_Handler, /* DebugMonitor */
	[14] = Default_Handler, /* PendSV */
	[15] = SysTick_Handler,
	[16 + UART0_IRQn] = UARTE0_UART0_IRQHandler,
};

void Default_Handler(void)
{
	for (;;)
		;
}

void Reset_Handler(void)
{
	uint32_t *src = &_sidata, *dst = &_sdata;

	while (dst < &_edata)
		*dst++ = *src++;
	for (dst = &_sbss; dst < &_ebss;)
		*dst++ = 0;
	main();
	for (;;)
		;
}
