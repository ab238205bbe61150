/*
 * shelfd: the store gateway daemon. Command line, config loading, and the
 * run of the daemon context (daemon.c).
 *
 *   shelfd [-c FILE]                  run in the foreground (systemd style)
 *   shelfd --check-config [-c FILE]   validate, exit 0 or print every error, exit 2
 *   shelfd --version
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

#define DEFAULT_CONFIG "/etc/shelfd/shelfd.json"

static void usage(FILE *f)
{
	fprintf(f, "usage: shelfd [-c FILE] [--check-config] [--version]\n"
		   "  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
		   "  --check-config      validate the configuration and exit (0 ok, 2 errors)\n"
		   "  -V, --version       print the version and exit\n");
}

static void print_errors(const char *path, const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s: %s: %s\n", path, errs->e[i].path, errs->e[i].msg);
	if (errs->n_total > errs->n)
		fprintf(stderr, "%s: ... and %zu more error(s)\n", path, errs->n_total - errs->n);
	fprintf(stderr, "%s: %zu error(s)\n", path, errs->n_total);
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	bool check = false;
	struct config_errors *errs;
	struct config *conf;
	struct shelfd d;
	int rc;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--check-config")) {
			check = true;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("shelfd %s\n", SHELFD_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "shelfd: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	conf = malloc(sizeof(*conf));
	errs = malloc(sizeof(*errs));
	if (!conf || !errs) {
		fprintf(stderr, "shelfd: out of memory\n");
		return 1;
	}
	rc = config_load(path, conf, errs);
	if (rc < 0) {
		print_errors(path, errs);
		free(conf);
		free(errs);
		return 2;
	}
	free(errs);
	if (check) {
		printf("%s: configuration OK (store %s, %zu device(s))\n", path, conf->store_id,
		       conf->n_devices);
		free(conf);
		return 0;
	}
	log_init("shelfd", conf->log_level, conf->log_syslog);
	rc = shelfd_init(&d, path, conf); /* owns conf from here */
	if (rc < 0) {
		log_err("cannot start: %s", strerror(-rc));
		shelfd_fini(&d);
		return 1;
	}
	rc = shelfd_run(&d);
	shelfd_fini(&d);
	log_info("stopped");
	return rc;
}
