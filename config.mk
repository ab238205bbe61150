# Build settings shared by every target. Override on the command line:
#   make CROSS=aarch64-linux-gnu-     build for the gateway (aarch64)
#   make SAN=1                        AddressSanitizer + UBSan build
#   make DEBUG=1                      no optimisation
CROSS ?=
CC := $(CROSS)gcc
STRIP := $(CROSS)strip

ifeq ($(CROSS),)
BUILD ?= build
else
BUILD ?= build-$(patsubst %-linux-gnu-,%,$(CROSS))
endif
ifeq ($(SAN),1)
BUILD := $(BUILD)-asan
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wundef -Wno-unused-parameter -Werror \
	-Wno-format-truncation
OPT := -O2 -g
ifeq ($(DEBUG),1)
OPT := -O0 -g
endif
CPPFLAGS := -D_GNU_SOURCE -Iagent -Idrivers -Ifirmware/proto -MMD -MP
CFLAGS := -std=c11 $(OPT) $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2
LDFLAGS :=
ifeq ($(SAN),1)
CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer $(WARN) -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIBS_NOGPIO := -lmosquitto -lsqlite3 -lcjson -lcurl -lcrypto -lm
LIBS_AGENT := $(LIBS_NOGPIO) -lgpiod
LIBS_CTL := -lcjson -lm
LIBS_TEST := -lcmocka
