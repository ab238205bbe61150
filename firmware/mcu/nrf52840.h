/*
 * nrf52840: the few registers of the Nordic nRF52840 (Cortex-M4F, 64 MHz,
 * 1 MiB flash, 256 KiB RAM) this firmware touches, from the nRF52840 Product
 * Specification v1.7: CLOCK, RNG, GPIO P0, UART0 (the legacy, non-DMA UART
 * sharing its instance with UARTE0), and the Cortex-M SysTick and NVIC.
 * Also the handler prototypes the vector table (startup.c) refers to.
 */
#ifndef NRF52840_H
#define NRF52840_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CLOCK */
#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART REG(CLOCK_BASE + 0x000)
#define CLOCK_EVENTS_HFCLKSTARTED REG(CLOCK_BASE + 0x100)

/* RNG */
#define RNG_BASE 0x4000D000u
#define RNG_TASKS_START REG(RNG_BASE + 0x000)
#define RNG_TASKS_STOP REG(RNG_BASE + 0x004)
#define RNG_EVENTS_VALRDY REG(RNG_BASE + 0x100)
#define RNG_VALUE REG(RNG_BASE + 0x508)

/* GPIO port 0 */
#define P0_BASE 0x50000000u
#define P0_OUTSET REG(P0_BASE + 0x508)
#define P0_DIRSET REG(P0_BASE + 0x518)
#define P0_PIN_CNF(n) REG(P0_BASE + 0x700 + 4u * (n))

/* UART0 (legacy UART) */
#define UART0_BASE 0x40002000u
#define UART0_TASKS_STARTRX REG(UART0_BASE + 0x000)
#define UART0_TASKS_STARTTX REG(UART0_BASE + 0x008)
#define UART0_EVENTS_RXDRDY REG(UART0_BASE + 0x108)
#define UART0_EVENTS_TXDRDY REG(UART0_BASE + 0x11C)
#define UART0_EVENTS_ERROR REG(UART0_BASE + 0x124)
#define UART0_INTENSET REG(UART0_BASE + 0x304)
#define UART0_ERRORSRC REG(UART0_BASE + 0x480)
#define UART0_ENABLE REG(UART0_BASE + 0x500)
#define UART0_PSEL_RTS REG(UART0_BASE + 0x508)
#define UART0_PSEL_TXD REG(UART0_BASE + 0x50C)
#define UART0_PSEL_CTS REG(UART0_BASE + 0x510)
#define UART0_PSEL_RXD REG(UART0_BASE + 0x514)
#define UART0_RXD REG(UART0_BASE + 0x518)
#define UART0_TXD REG(UART0_BASE + 0x51C)
#define UART0_BAUDRATE REG(UART0_BASE + 0x524)
#define UART0_CONFIG REG(UART0_BASE + 0x56C)

#define UART_INT_RXDRDY (1u << 2)
#define UART_INT_TXDRDY (1u << 7)
#define UART_INT_ERROR (1u << 9)
#define UART_ENABLE_ON 4u
#define UART_PSEL_DISCONNECTED 0xFFFFFFFFu
#define UART_BAUD_115200 0x01D7E000u
#define UART_BAUD_230400 0x03AFB000u
#define UART_BAUD_460800 0x075F7000u
#define UART_BAUD_1M 0x10000000u
#define UART0_IRQn 2u /* UARTE0_UART0 */

/* Cortex-M4 system registers */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_IPR(n) (*(volatile uint8_t *)(0xE000E400u + (n)))

#define CPU_HZ 64000000u

static inline void cpu_wfi(void)
{
	__asm__ volatile("wfi");
}

static inline void irq_disable(void)
{
	__asm__ volatile("cpsid i" ::: "memory");
}

static inline void irq_enable(void)
{
	__asm__ volatile("cpsie i" ::: "memory");
}

/* Exception and interrupt handlers (startup.c, uart.c, main.c). */
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UARTE0_UART0_IRQHandler(void);
int main(void);

#endif
