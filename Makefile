# shelfd: plain Makefile with explicit object lists (see config.mk).
include config.mk

.DEFAULT_GOAL := all

UTIL_OBJS := agent/util.o agent/log.o
DRIVER_OBJS := drivers/device.o drivers/linebuf.o drivers/pos.o drivers/serial.o drivers/serdev.o \
	drivers/pos_drv.o drivers/esl.o firmware/proto/esl_proto.o firmware/proto/esl_link.o \
	drivers/probe.o drivers/probe_drv.o drivers/beam.o drivers/camera.o
AGENT_OBJS := agent/main.o agent/daemon.o agent/loop.o agent/config.o agent/store.o \
	agent/batch.o agent/hqlink.o agent/ctl.o agent/json.o agent/pricebook.o agent/inbox.o \
	agent/daemon_prices.o agent/prices.o agent/jpath.o agent/jscan.o agent/labeljob.o agent/labelbook.o \
	agent/sqlstmt.o agent/pseudo.o agent/visits.o agent/kpi.o agent/sensing.o agent/curlloop.o \
	agent/act.o agent/screens.o agent/recs.o agent/rules.o agent/markdown.o \
	agent/labels.o agent/render.o agent/font.o agent/fetch.o firmware/proto/esl_image.o \
	$(DRIVER_OBJS) \
	$(UTIL_OBJS)
CTL_OBJS := agent/shelfctl.o agent/json.o agent/util.o agent/render.o agent/font.o agent/image.o \
	firmware/proto/esl_image.o
HQ_OBJS := agent/shelfhq.o agent/prices.o agent/jpath.o agent/jscan.o agent/json.o agent/util.o

# Unit tests: tests/unit/test_NAME.c linked with the objects listed here.
UNIT_TESTS := test_util test_linebuf test_pos test_config test_store test_batch test_loop test_json
test_util_OBJS := $(UTIL_OBJS)
test_linebuf_OBJS := drivers/linebuf.o drivers/serial.o $(UTIL_OBJS)
test_pos_OBJS := drivers/pos.o agent/jscan.o $(UTIL_OBJS)
test_config_OBJS := agent/config.o drivers/serial.o $(UTIL_OBJS)
test_store_OBJS := agent/store.o $(UTIL_OBJS)
test_batch_OBJS := agent/batch.o agent/store.o $(UTIL_OBJS)
test_loop_OBJS := agent/loop.o $(UTIL_OBJS)
test_json_OBJS := agent/json.o $(UTIL_OBJS)
# Prices, labels and the ESL link (issue 3).
UNIT_TESTS += test_image test_render test_prices test_labeljob test_jscan
test_image_OBJS := agent/image.o firmware/proto/esl_image.o $(UTIL_OBJS)
test_render_OBJS := agent/render.o agent/font.o agent/image.o firmware/proto/esl_image.o $(UTIL_OBJS)
test_prices_OBJS := agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS)
test_labeljob_OBJS := agent/labeljob.o $(UTIL_OBJS)
test_jscan_OBJS := agent/jscan.o $(UTIL_OBJS)
UNIT_TESTS += test_fetch
test_fetch_OBJS := agent/fetch.o agent/curlloop.o agent/loop.o $(UTIL_OBJS)
# Store sensing (issue 4): probes, pseudonyms, visits, KPIs, beam counters.
UNIT_TESTS += test_probe test_pseudo test_visits test_kpi test_beam test_camera
test_probe_OBJS := drivers/probe.o $(UTIL_OBJS)
test_pseudo_OBJS := agent/pseudo.o $(UTIL_OBJS)
test_visits_OBJS := agent/visits.o agent/pseudo.o $(UTIL_OBJS)
test_kpi_OBJS := agent/kpi.o agent/visits.o agent/pseudo.o $(UTIL_OBJS)
test_beam_OBJS := drivers/beam.o $(UTIL_OBJS)
# The camera driver against the libgpiod test double (no GPIO chip here).
test_camera_OBJS := tests/gpiod/gpiod_double.o agent/loop.o agent/jscan.o \
	firmware/proto/esl_image.o $(DRIVER_OBJS) $(UTIL_OBJS)
# Screens, recommendations, local rules, markdown (issue 5): pure modules with
# their unit tests; not in shelfd yet.
UNIT_TESTS += test_recs test_rules test_markdown
test_recs_OBJS := agent/recs.o agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS)
test_rules_OBJS := agent/rules.o agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS)
test_markdown_OBJS := agent/markdown.o agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS)
UNIT_TESTS += test_screens
test_screens_OBJS := agent/screens.o agent/curlloop.o agent/loop.o $(UTIL_OBJS)
# The base-station firmware, its emulator and the shared wire codec.
include firmware/firmware.mk

B := $(BUILD)
PROGS := $(B)/shelfd $(B)/shelfctl $(B)/shelfhq $(B)/shelfd-gpiosim
UNIT_BINS := $(addprefix $(B)/tests/,$(UNIT_TESTS))
FUZZ_POS := $(B)/tests/fuzz_pos

all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/shelfd: $(addprefix $(B)/,$(AGENT_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)

# shelfd linked against the libgpiod test double (tests/gpiod): the
# integration tests, the demo and the bench drive its "GPIO lines" through
# FIFOs. Never installed on a gateway.
$(B)/shelfd-gpiosim: $(addprefix $(B)/,$(AGENT_OBJS) tests/gpiod/gpiod_double.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_NOGPIO)

$(B)/shelfctl: $(addprefix $(B)/,$(CTL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CTL)

$(B)/shelfhq: $(addprefix $(B)/,$(HQ_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -lmosquitto $(LIBS_CTL)

.SECONDEXPANSION:
$(UNIT_BINS): $(B)/tests/%: $(B)/tests/unit/%.o $$(addprefix $(B)/,$$($$*_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_NOGPIO) $(LIBS_TEST)

# A plain driver for the POS parser fuzz target: replays files or random input
# (libFuzzer builds use tests/fuzz/README.md).
$(FUZZ_POS): $(B)/tests/fuzz/fuzz_pos.o $(B)/tests/fuzz/fuzz_main.o \
		$(addprefix $(B)/,drivers/pos.o agent/jscan.o $(UTIL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -lcjson

$(B)/tests/fuzz_probe: $(B)/tests/fuzz/fuzz_probe.o $(B)/tests/fuzz/fuzz_main.o \
		$(addprefix $(B)/,drivers/probe.o $(UTIL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^

$(B)/tests/fuzz_prices: $(B)/tests/fuzz/fuzz_prices.o \
		$(addprefix $(B)/,agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^

# The price-batch parser's timing and allocation bench (make bench runs it).
$(B)/tests/prices_parse: $(B)/tests/bench/prices_parse.o \
		$(addprefix $(B)/,agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS))
	$(CC) $(LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free -o $@ $^

# The rules engine's cost per event with 1,000 rules (make bench runs it through
# tests/bench/screens).
$(B)/tests/rules_eval: $(B)/tests/bench/rules_eval.o \
		$(addprefix $(B)/,agent/rules.o agent/prices.o agent/jpath.o agent/jscan.o $(UTIL_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -lcjson -lm

unit: $(UNIT_BINS)

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

# make test: every unit test, the fuzz smoke run, then the black-box scenarios.
test: deps
	$(MAKE) check-format all unit firmware $(FUZZ_POS) $(B)/tests/fuzz_prices \
		$(B)/tests/fuzz_probe
	tests/run-all $(B)

asan: deps
	$(MAKE) SAN=1 test

test-arm64: deps
	$(MAKE) CROSS=aarch64-linux-gnu- unit
	tests/run-unit build-aarch64 qemu-aarch64-static -L /usr/aarch64-linux-gnu

bench: deps all $(B)/tests/prices_parse $(B)/tests/rules_eval
	tests/bench/run $(B); rc=$$?; tests/bench/labels $(B) || rc=1; \
		tests/bench/sensing $(B) || rc=1; tests/bench/screens $(B) || rc=1; exit $$rc

demo: deps all
	scripts/demo $(B)

strip: all
	$(STRIP) -o $(B)/shelfd.stripped $(B)/shelfd

format:
	clang-format -i agent/*.[ch] drivers/*.[ch] firmware/*/*.[ch] tests/unit/*.c tests/fuzz/*.c \
		tests/gpiod/*.c

check-format:
	clang-format --dry-run --Werror agent/*.[ch] drivers/*.[ch] firmware/*/*.[ch] \
		tests/unit/test_esl_*.c tests/unit/test_bs_core.c tests/unit/test_labeljob.c \
		tests/unit/test_probe.c tests/unit/test_pseudo.c tests/unit/test_visits.c \
		tests/unit/test_kpi.c tests/unit/test_beam.c tests/unit/test_camera.c \
		tests/fuzz/fuzz_probe.c tests/gpiod/*.c tests/unit/test_recs.c \
		tests/unit/test_rules.c tests/unit/test_markdown.c tests/unit/test_screens.c

clean:
	rm -rf build build-*

.PHONY: all unit deps test asan test-arm64 bench demo strip format check-format clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
