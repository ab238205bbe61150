# Included by the top-level Makefile: host-side pieces of firmware/ (the
# shared wire codec, the base-station logic, the emulator esl-emu, the
# technician tool esl-tool, their unit tests) and the `firmware` target,
# which builds the Cortex-M image with firmware/Makefile (arm-none-eabi).

CPPFLAGS += -Ifirmware/bs

ESL_PROTO_OBJS := firmware/proto/esl_proto.o firmware/proto/esl_link.o
ESL_BS_OBJS := firmware/bs/bs_core.o $(ESL_PROTO_OBJS)

UNIT_TESTS += test_esl_proto test_esl_link test_bs_core
test_esl_proto_OBJS := $(ESL_PROTO_OBJS)
test_esl_link_OBJS := $(ESL_PROTO_OBJS)
test_bs_core_OBJS := $(ESL_BS_OBJS) firmware/proto/esl_image.o

ESL_EMU_OBJS := firmware/emu/emu_main.o firmware/emu/sim_radio.o firmware/emu/ctl.o \
	$(ESL_BS_OBJS) firmware/proto/esl_image.o agent/image.o
ESL_TOOL_OBJS := firmware/emu/esl_tool.o firmware/emu/tty.o $(ESL_PROTO_OBJS) \
	firmware/proto/esl_image.o agent/image.o
ESL_EMU_OBJS += firmware/emu/tty.o

# The codec and the station logic are freestanding: build them so on the
# host too, so a libc call would not slip in unnoticed.
$(addprefix $(BUILD)/,$(ESL_BS_OBJS) firmware/proto/esl_image.o): CFLAGS += -ffreestanding

$(BUILD)/esl-emu: $(addprefix $(BUILD)/,$(ESL_EMU_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/esl-tool: $(addprefix $(BUILD)/,$(ESL_TOOL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^

esl: $(BUILD)/esl-emu $(BUILD)/esl-tool

# The emulator and the tool are part of every host build (the scenarios and
# `make demo` run them).
all: $(BUILD)/esl-emu $(BUILD)/esl-tool

# The Cortex-M image (nRF52840); prints arm-none-eabi-size.
firmware:
	$(MAKE) -C firmware O=$(abspath $(BUILD))/mcu

firmware-clean:
	$(MAKE) -C firmware O=$(abspath $(BUILD))/mcu clean

format-firmware:
	clang-format -i firmware/proto/*.[ch] firmware/bs/*.[ch] firmware/emu/*.[ch] \
		firmware/mcu/*.[ch] tests/unit/test_esl_*.c tests/unit/test_bs_core.c

.PHONY: esl firmware firmware-clean format-firmware
