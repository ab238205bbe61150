/*
 * Unit tests for agent/config.c: parsing, defaults, comments, syntax error
 * positions, and every validation rule of DESIGN §5.3, each asserted with
 * the exact JSON path of the error. config_load is tested on real files.
 *
 * JSON in this file is written with ' for " (parse() swaps them back) so
 * the documents stay readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

struct fx {
	struct config c;
	struct config_errors e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void dump(const struct config_errors *e)
{
	size_t i;

	print_message("%zu error(s), %zu stored:\n", e->n_total, e->n);
	for (i = 0; i < e->n; i++)
		print_message("  %s: %s\n", e->e[i].path, e->e[i].msg);
}

/*
 * Parse @json with every ' replaced by ". The text is handed over in an
 * exact-size buffer without a NUL, so ASan catches reads past @len.
 */
static int parse_len(struct fx *f, const char *json, size_t len)
{
	char *buf = malloc(len ? len : 1);
	size_t i;
	int rc;

	assert_non_null(buf);
	for (i = 0; i < len; i++)
		buf[i] = json[i] == '\'' ? '"' : json[i];
	rc = config_parse(buf, len, &f->c, &f->e);
	free(buf);
	return rc;
}

static int parse(struct fx *f, const char *json)
{
	return parse_len(f, json, strlen(json));
}

/* Parse and expect success. */
static void parse_ok(struct fx *f, const char *json)
{
	int rc = parse(f, json);

	if (rc != 0 || f->e.n_total != 0)
		dump(&f->e);
	assert_int_equal(rc, 0);
	assert_int_equal(f->e.n_total, 0);
}

/* Assert an error at exactly @path whose message contains @msg. */
static void expect_err(const struct fx *f, const char *path, const char *msg)
{
	size_t i;

	for (i = 0; i < f->e.n; i++) {
		if (strcmp(f->e.e[i].path, path) == 0 && strstr(f->e.e[i].msg, msg))
			return;
	}
	dump(&f->e);
	fail_msg("no error at %s containing \"%s\"", path, msg);
}

/* Parse @json, expect exactly one error, at @path, containing @msg. */
static void expect_one(struct fx *f, const char *json, const char *path, const char *msg)
{
	int rc = parse(f, json);

	if (f->e.n_total != 1)
		dump(&f->e);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(f->e.n_total, 1);
	assert_int_equal(f->e.n, 1);
	expect_err(f, path, msg);
}

/* The paths of all errors, in order, must be exactly @paths. */
static void expect_paths(const struct fx *f, const char *const *paths, size_t n)
{
	size_t i;

	if (f->e.n_total != n)
		dump(&f->e);
	assert_int_equal(f->e.n_total, n);
	for (i = 0; i < n; i++) {
		if (strcmp(f->e.e[i].path, paths[i]) != 0)
			dump(&f->e);
		assert_string_equal(f->e.e[i].path, paths[i]);
	}
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(dev_kind_name(DEV_POS), "pos");
	assert_string_equal(dev_kind_name(DEV_PROBE), "probe");
	assert_string_equal(dev_kind_name(DEV_CAMERA), "camera");
	assert_string_equal(dev_kind_name(DEV_ESL), "esl");
	assert_string_equal(dev_kind_name(DEV_SCREEN), "screen");
	assert_string_equal(dev_kind_name((enum dev_kind)99), "unknown");
}

/* The example of DESIGN §5.3, with plausible paths for tls and password. */
static const char design_example[] =
	"{ 'store_id': 'S042', 'data_dir': '/var/lib/shelfd',\n"
	"  'control_socket': '/run/shelfd/ctl.sock', 'log_level': 'info',\n"
	"  'hq': { 'host': '127.0.0.1', 'port': 1883, 'keepalive': 30, 'topic_prefix': "
	"'shelf/v1',\n"
	"          'tls': { 'ca': '/etc/shelfd/ca.pem', 'cert': '/etc/shelfd/S042.pem',\n"
	"                   'key': '/etc/shelfd/S042.key' }, 'username': 'S042',\n"
	"          'password_file': '/etc/shelfd/mqtt.pass' },\n"
	"  'outbox': { 'max_mb': 256, 'sync': 'full' },\n"
	"  'devices': [\n"
	"    { 'name': 'till1', 'kind': 'pos', 'port': '/dev/ttyUSB0', 'baud': 115200, "
	"'format': 'jsonl' },\n"
	"    { 'name': 'probe1', 'kind': 'probe', 'port': '/dev/ttyUSB1', 'baud': 115200 },\n"
	"    { 'name': 'door', 'kind': 'camera', 'chip': 'gpiochip0', 'line_a': 17, 'line_b': 18,\n"
	"      'debounce_ms': 30, 'zone': 'entrance' },\n"
	"    { 'name': 'esl0', 'kind': 'esl', 'port': '/dev/ttyACM0', 'baud': 115200 },\n"
	"    { 'name': 'screen-dairy', 'kind': 'screen', 'url': 'http://10.0.0.21:8080/content',\n"
	"      'zone': 'dairy' } ] }\n";

static void test_design_example(void **state)
{
	struct fx *f = *state;
	const struct config *c = &f->c;
	const struct device_conf *d = c->devices;

	parse_ok(f, design_example);
	assert_string_equal(c->store_id, "S042");
	assert_string_equal(c->data_dir, "/var/lib/shelfd");
	assert_string_equal(c->control_socket, "/run/shelfd/ctl.sock");
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_syslog);
	assert_string_equal(c->hq.host, "127.0.0.1");
	assert_int_equal(c->hq.port, 1883); /* given explicitly: tls does not change it */
	assert_int_equal(c->hq.keepalive, 30);
	assert_string_equal(c->hq.topic_prefix, "shelf/v1");
	assert_string_equal(c->hq.tls_ca, "/etc/shelfd/ca.pem");
	assert_string_equal(c->hq.tls_cert, "/etc/shelfd/S042.pem");
	assert_string_equal(c->hq.tls_key, "/etc/shelfd/S042.key");
	assert_string_equal(c->hq.username, "S042");
	assert_string_equal(c->hq.password_file, "/etc/shelfd/mqtt.pass");
	assert_int_equal(c->outbox.max_mb, 256);
	assert_true(c->outbox.sync_full);

	assert_int_equal(c->n_devices, 5);
	assert_string_equal(d[0].name, "till1");
	assert_int_equal(d[0].kind, DEV_POS);
	assert_string_equal(d[0].port, "/dev/ttyUSB0");
	assert_int_equal(d[0].baud, 115200);
	assert_string_equal(d[0].format, "jsonl");

	assert_string_equal(d[1].name, "probe1");
	assert_int_equal(d[1].kind, DEV_PROBE);
	assert_string_equal(d[1].port, "/dev/ttyUSB1");
	assert_int_equal(d[1].baud, 115200);

	assert_string_equal(d[2].name, "door");
	assert_int_equal(d[2].kind, DEV_CAMERA);
	assert_string_equal(d[2].chip, "gpiochip0");
	assert_int_equal(d[2].line_a, 17);
	assert_int_equal(d[2].line_b, 18);
	assert_false(d[2].active_low);
	assert_int_equal(d[2].debounce_ms, 30);
	assert_string_equal(d[2].zone, "entrance");

	assert_string_equal(d[3].name, "esl0");
	assert_int_equal(d[3].kind, DEV_ESL);
	assert_string_equal(d[3].port, "/dev/ttyACM0");

	assert_string_equal(d[4].name, "screen-dairy");
	assert_int_equal(d[4].kind, DEV_SCREEN);
	assert_string_equal(d[4].url, "http://10.0.0.21:8080/content");
	assert_string_equal(d[4].zone, "dairy");
}

/* Every key set to something other than its default. */
static void test_all_keys_non_default(void **state)
{
	struct fx *f = *state;
	const struct config *c = &f->c;

	parse_ok(f,
		 "{ 'store_id': 'store_7-b', 'data_dir': '/srv/shelfd',"
		 "  'control_socket': '/tmp/s.sock', 'log_level': 'debug', 'log_target': 'syslog',"
		 "  'hq': { 'host': 'hq.example.com', 'port': 18883, 'keepalive': 3600,"
		 "          'topic_prefix': 'acme/shelf/v1', 'username': 'u',"
		 "          'password_file': '/p', 'batch_max_events': 10000,"
		 "          'batch_max_bytes': 1024, 'max_inflight': 1000,"
		 "          'backoff_min_ms': 1000, 'backoff_max_ms': 1000 },"
		 "  'outbox': { 'max_mb': 65536, 'sync': 'normal' },"
		 "  'devices': [ { 'name': 'a.b_c-9', 'kind': 'camera', 'chip': '/dev/gpiochip1',"
		 "                 'line_a': 0, 'active_low': true, 'debounce_ms': 0 },"
		 "               { 'name': 'till', 'kind': 'pos', 'port': '/dev/ttyS0',"
		 "                 'baud': 9600 },"
		 "               { 'name': 'scr', 'kind': 'screen', 'url': 'HTTPS://x' } ] }");
	assert_string_equal(c->store_id, "store_7-b");
	assert_string_equal(c->data_dir, "/srv/shelfd");
	assert_string_equal(c->control_socket, "/tmp/s.sock");
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_true(c->log_syslog);
	assert_string_equal(c->hq.host, "hq.example.com");
	assert_int_equal(c->hq.port, 18883);
	assert_int_equal(c->hq.keepalive, 3600);
	assert_string_equal(c->hq.topic_prefix, "acme/shelf/v1");
	assert_string_equal(c->hq.tls_ca, "");
	assert_string_equal(c->hq.username, "u");
	assert_string_equal(c->hq.password_file, "/p");
	assert_int_equal(c->hq.batch_max_events, 10000);
	assert_int_equal(c->hq.batch_max_bytes, 1024);
	assert_int_equal(c->hq.max_inflight, 1000);
	assert_int_equal(c->hq.backoff_min_ms, 1000);
	assert_int_equal(c->hq.backoff_max_ms, 1000);
	assert_int_equal(c->outbox.max_mb, 65536);
	assert_false(c->outbox.sync_full);
	assert_int_equal(c->n_devices, 3);
	assert_string_equal(c->devices[0].name, "a.b_c-9");
	assert_int_equal(c->devices[0].line_a, 0);
	assert_int_equal(c->devices[0].line_b, -1);
	assert_true(c->devices[0].active_low);
	assert_int_equal(c->devices[0].debounce_ms, 0);
	assert_string_equal(c->devices[0].zone, "");
	assert_int_equal(c->devices[1].baud, 9600);
	assert_string_equal(c->devices[1].format, "jsonl"); /* the default */
	assert_string_equal(c->devices[2].url, "HTTPS://x");
}

static void test_defaults_minimal(void **state)
{
	struct fx *f = *state;
	const struct config *c = &f->c;

	parse_ok(f, "{'store_id':'S1'}");
	assert_string_equal(c->store_id, "S1");
	assert_string_equal(c->data_dir, "/var/lib/shelfd");
	assert_string_equal(c->control_socket, "/run/shelfd/ctl.sock");
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_syslog);
	assert_string_equal(c->hq.host, "127.0.0.1");
	assert_int_equal(c->hq.port, 1883);
	assert_int_equal(c->hq.keepalive, 30);
	assert_string_equal(c->hq.topic_prefix, "shelf/v1");
	assert_string_equal(c->hq.tls_ca, "");
	assert_string_equal(c->hq.tls_cert, "");
	assert_string_equal(c->hq.tls_key, "");
	assert_string_equal(c->hq.username, "");
	assert_string_equal(c->hq.password_file, "");
	assert_int_equal(c->hq.batch_max_events, 500);
	assert_int_equal(c->hq.batch_max_bytes, 262144);
	assert_int_equal(c->hq.max_inflight, 16);
	assert_int_equal(c->hq.backoff_min_ms, 500);
	assert_int_equal(c->hq.backoff_max_ms, 60000);
	assert_int_equal(c->outbox.max_mb, 256);
	assert_true(c->outbox.sync_full);
	assert_int_equal(c->n_devices, 0);

	/* empty objects and arrays are fine too */
	parse_ok(f, "{'store_id':'S1','hq':{},'outbox':{},'devices':[]}");
	assert_int_equal(f->c.hq.port, 1883);
	assert_int_equal(f->c.n_devices, 0);
}

static void test_device_defaults(void **state)
{
	struct fx *f = *state;
	const struct device_conf *d = f->c.devices;

	parse_ok(f, "{'store_id':'S1','devices':["
		    "{'name':'t','kind':'pos','port':'/dev/a'},"
		    "{'name':'c','kind':'camera','chip':'gpiochip0','line_a':5},"
		    "{'name':'p','kind':'probe','port':'/dev/b'}]}");
	assert_int_equal(d[0].baud, 115200);
	assert_string_equal(d[0].format, "jsonl");
	assert_int_equal(d[1].line_b, -1);
	assert_false(d[1].active_low);
	assert_int_equal(d[1].debounce_ms, 30);
	assert_string_equal(d[1].zone, "");
	assert_int_equal(d[2].baud, 115200);
	assert_string_equal(d[2].format, "");
}

static void test_tls_default_port(void **state)
{
	struct fx *f = *state;

	parse_ok(f, "{'store_id':'S1','hq':{'tls':{'ca':'/ca.pem'}}}");
	assert_int_equal(f->c.hq.port, 8883);
	assert_string_equal(f->c.hq.tls_ca, "/ca.pem");
	assert_string_equal(f->c.hq.tls_cert, "");

	parse_ok(f, "{'store_id':'S1','hq':{'port':1883,'tls':{'ca':'/ca.pem'}}}");
	assert_int_equal(f->c.hq.port, 1883);

	parse_ok(f, "{'store_id':'S1','hq':{'tls':{'ca':'/a','cert':'/b','key':'/c'}}}");
	assert_int_equal(f->c.hq.port, 8883);
	assert_string_equal(f->c.hq.tls_key, "/c");
}

static void test_comments(void **state)
{
	struct fx *f = *state;
	const struct device_conf *d = f->c.devices;

	parse_ok(f, "// a line comment first\n"
		    "{\n"
		    "  /* a block\n"
		    "     comment */ 'store_id': 'S1', // trailing\n"
		    "  'devices': [ /* inline */\n"
		    "    { 'name': 'scr', 'kind': 'screen', 'url': 'http://10.0.0.21:8080/a//b',\n"
		    "      'zone': '/* not a comment */' },\n"
		    "    { 'name': 'cam', 'kind': 'camera', 'chip': 'gpiochip0', 'line_a': 4,\n"
		    "      'zone': 'say \\'hi\\' // still a string' } // done\n"
		    "  ] /**/ }\n"
		    "// trailing comment without newline");
	assert_string_equal(f->c.store_id, "S1");
	assert_int_equal(f->c.n_devices, 2);
	assert_string_equal(d[0].url, "http://10.0.0.21:8080/a//b");
	assert_string_equal(d[0].zone, "/* not a comment */");
	assert_string_equal(d[1].zone, "say \"hi\" // still a string");

	/* CRLF line endings and a comment touching a value */
	parse_ok(f, "{'store_id':/*x*/'S2'//y\r\n}");
	assert_string_equal(f->c.store_id, "S2");
}

static void test_syntax_error_position(void **state)
{
	struct fx *f = *state;

	expect_one(f,
		   "{\n"
		   "  'store_id': 'S1',\n"
		   "  'data_dir' '/x'\n"
		   "}\n",
		   "$", "invalid JSON at line 3 column 14");

	/* comments before the error do not shift its position */
	expect_one(f,
		   "/* one */ {\n"
		   "// two\n"
		   "  'store_id': 'S1' 'data_dir': '/x'\n"
		   "}\n",
		   "$", "invalid JSON at line 3 column 20");

	expect_one(f, "{'store_id': S1}", "$", "invalid JSON at line 1 column 14");
	expect_one(f, "{'store_id':'S1'} x", "$", "invalid JSON at line 1 column 19");
	expect_one(f, "{'store_id':'S1',\n'hq':{", "$", "unexpected end");
	expect_one(f, "{\n'a': 1 /* never closed\n}", "$",
		   "unterminated comment starting at line 2 column 8");
}

static void test_input_hygiene(void **state)
{
	struct fx *f = *state;
	static const char nul[] = "{'store_id':\n 'S1'\0}";
	static const char bad_utf8[] = "{'store_id':'S1','devices':[{'name':'s','kind':'screen',"
				       "'url':'http://x','zone':'\xc3\x28'}]}";

	assert_int_equal(parse_len(f, nul, sizeof(nul) - 1), -EINVAL);
	expect_err(f, "$", "NUL byte at line 2 column 6");
	assert_int_equal(parse(f, bad_utf8), -EINVAL);
	expect_err(f, "$", "not valid UTF-8");
	expect_one(f, "{'store_id':'S1\\u0000x'}", "$", "\\u0000 in a string at line 1 column 16");
	expect_one(f, "", "$", "empty document");
	expect_one(f, " \n\t ", "$", "empty document");
	expect_one(f, "// only a comment\n/* and another */", "$", "empty document");
	expect_one(f, "[]", "$", "must be a JSON object, got an array");
	expect_one(f, "null", "$", "must be a JSON object, got null");
	expect_one(f, "'S1'", "$", "must be a JSON object, got \"S1\"");

	/* UTF-8 in values is fine */
	parse_ok(f, "{'store_id':'S1','devices':[{'name':'s','kind':'screen',"
		    "'url':'http://x','zone':'\xe4\xb9\xb3\xe5\x88\xb6\xe5\x93\x81'}]}");
	assert_string_equal(f->c.devices[0].zone, "\xe4\xb9\xb3\xe5\x88\xb6\xe5\x93\x81");

	assert_int_equal(config_parse(NULL, 1, &f->c, &f->e), -EINVAL);
	assert_int_equal(config_parse("{}", 2, NULL, &f->e), -EINVAL);
	assert_int_equal(config_parse("{}", 2, &f->c, NULL), -EINVAL);
}

/* Many problems at once: every one is reported, in document order. */
static void test_multiple_errors(void **state)
{
	struct fx *f = *state;
	static const char *const paths[] = {
		"$.store_id",	     "$.hq.port",     "$.hq.keepalive",	     "$.hq.tls.ca",
		"$.hq.tls.key",	     "$.outbox.sync", "$.devices[0].baud",   "$.devices[1].name",
		"$.devices[1].port", "$.devices[2]",  "$.devices[3].line_a",
	};

	assert_int_equal(parse(f,
			       "{ 'store_id': 'bad id',\n"
			       "  'hq': { 'port': '1883', 'keepalive': 30.5,\n"
			       "          'tls': { 'cert': '/c.pem' } },\n"
			       "  'outbox': { 'sync': 'fast' },\n"
			       "  'devices': [\n"
			       "    { 'name': 'till1', 'kind': 'pos', 'port': '/dev/ttyUSB0',\n"
			       "      'baud': 1234 },\n"
			       "    { 'name': 'till1', 'kind': 'esl', 'port': '/dev/ttyUSB0' },\n"
			       "    42,\n"
			       "    { 'name': 'door', 'kind': 'camera', 'chip': 'gpiochip0' } ] }"),
			 -EINVAL);
	expect_paths(f, paths, sizeof(paths) / sizeof(paths[0]));
	expect_err(f, "$.store_id", "must match [A-Za-z0-9_-]{1,64}, got \"bad id\"");
	expect_err(f, "$.hq.port", "must be an integer 1..65535, got \"1883\"");
	expect_err(f, "$.hq.keepalive", "must be an integer 5..3600, got 30.5");
	expect_err(f, "$.hq.tls.ca", "required when \"cert\" is given");
	expect_err(f, "$.hq.tls.key", "required when \"cert\" is given");
	expect_err(f, "$.outbox.sync", "must be one of \"full\", \"normal\", got \"fast\"");
	expect_err(f, "$.devices[0].baud", "got 1234");
	expect_err(f, "$.devices[1].name", "duplicate device name \"till1\" (also $.devices[0])");
	expect_err(f, "$.devices[1].port", "already used by $.devices[0]");
	expect_err(f, "$.devices[2]", "must be an object, got 42");
	expect_err(f, "$.devices[3].line_a", "required key is missing");
}

static void test_unknown_keys(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, "{'store_id':'S1','Log_Level':'info','device':[],"
				  "'hq':{'keepalvie':10,'zzz':1,'prot':2},"
				  "'outbox':{'maxmb':1},"
				  "'devices':[{'name':'c','kind':'camera','chip':'g','line_a':1,"
				  "'debounce':3}]}"),
			 -EINVAL);
	assert_int_equal(f->e.n_total, 7);
	expect_err(f, "$.Log_Level", "unknown key (did you mean \"log_level\"?)");
	expect_err(f, "$.device", "unknown key (did you mean \"devices\"?)");
	expect_err(f, "$.hq.keepalvie", "unknown key (did you mean \"keepalive\"?)");
	expect_err(f, "$.hq.prot", "unknown key (did you mean \"port\"?)");
	expect_err(f, "$.outbox.maxmb", "unknown key (did you mean \"max_mb\"?)");
	expect_err(f, "$.devices[0].debounce", "unknown key (did you mean \"debounce_ms\"?)");
	/* nothing close: no suggestion */
	expect_err(f, "$.hq.zzz", "unknown key");
	assert_null(strstr(f->e.e[3].msg, "did you mean"));

	expect_one(f, "{'store_id':'S1','hq':{'tls':{'ca':'/a','crt':'/b'}}}", "$.hq.tls.crt",
		   "did you mean \"cert\"?");
	/* a key of another kind names the kinds that take it */
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t','kind':'pos','port':'/dev/a',"
		   "'url':'http://x'}]}",
		   "$.devices[0].url", "not allowed for a pos device (only for: screen)");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t','kind':'probe','port':'/dev/a',"
		   "'format':'jsonl'}]}",
		   "$.devices[0].format", "not allowed for a probe device (only for: pos)");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'baud':9600}]}",
		   "$.devices[0].baud", "only for: pos, probe, esl");
	/* a key given twice */
	expect_one(f, "{'store_id':'S1','store_id':'S2'}", "$.store_id", "duplicate key");
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':42}", "$.store_id", "must be a string, got 42");
	expect_one(f, "{'store_id':'S1','hq':[]}", "$.hq", "must be an object, got an array");
	expect_one(f, "{'store_id':'S1','outbox':'big'}", "$.outbox",
		   "must be an object, got \"big\"");
	expect_one(f, "{'store_id':'S1','devices':{}}", "$.devices",
		   "must be an array, got an object");
	expect_one(f, "{'store_id':'S1','hq':{'tls':true}}", "$.hq.tls",
		   "must be an object, got true");
	expect_one(f, "{'store_id':'S1','hq':{'host':null}}", "$.hq.host",
		   "must be a string, got null");
	expect_one(f, "{'store_id':'S1','outbox':{'max_mb':'256'}}", "$.outbox.max_mb",
		   "must be an integer 1..65536, got \"256\"");
	expect_one(f, "{'store_id':'S1','log_level':3}", "$.log_level",
		   "must be one of \"error\", \"warn\", \"info\", \"debug\", got 3");
	expect_one(f, "{'store_id':'S1','log_level':'verbose'}", "$.log_level", "got \"verbose\"");
	expect_one(f, "{'store_id':'S1','log_target':'file'}", "$.log_target",
		   "must be one of \"stderr\", \"syslog\", got \"file\"");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1,'active_low':'yes'}]}",
		   "$.devices[0].active_low", "must be true or false, got \"yes\"");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':[1]}]}",
		   "$.devices[0].line_a", "must be an integer 0..1023, got an array");
	expect_one(f, "{'store_id':'S1','devices':[{'name':7,'kind':'pos','port':'/dev/a'}]}",
		   "$.devices[0].name", "must be a string, got 7");
	/* a long string is shown shortened */
	expect_one(
		f,
		"{'store_id':'S1','hq':{'port':'123456789012345678901234567890123456789012345'}}",
		"$.hq.port", "got \"1234567890123456789012345678901234567890...\"");
}

static void test_store_id(void **state)
{
	struct fx *f = *state;
	char json[256];

	expect_one(f, "{'store_id':'S 1'}", "$.store_id", "must match [A-Za-z0-9_-]{1,64}");
	expect_one(f, "{'store_id':'S/1'}", "$.store_id", "must match");
	expect_one(f, "{'store_id':'S+1'}", "$.store_id", "must match");
	expect_one(f, "{'store_id':'fleet'}", "$.store_id", "\"fleet\" is reserved");
	expect_one(f, "{'store_id':''}", "$.store_id", "must not be empty");
	expect_one(f, "{'hq':{}}", "$.store_id", "required key is missing");
	expect_one(f, "{}", "$.store_id", "required key is missing");

	snprintf(json, sizeof(json), "{'store_id':'%s'}",
		 "0123456789012345678901234567890123456789012345678901234567890123");
	parse_ok(f, json); /* 64 characters: the limit */
	assert_int_equal(strlen(f->c.store_id), 64);
	snprintf(json, sizeof(json), "{'store_id':'%s'}",
		 "01234567890123456789012345678901234567890123456789012345678901234");
	expect_one(f, json, "$.store_id", "too long: 65 bytes, at most 64");

	parse_ok(f, "{'store_id':'Fleet_2-x'}");
}

static void test_baud(void **state)
{
	struct fx *f = *state;

	parse_ok(f, "{'store_id':'S1','devices':[{'name':'a','kind':'pos','port':'/dev/a',"
		    "'baud':9600},{'name':'b','kind':'esl','port':'/dev/b','baud':921600}]}");
	assert_int_equal(f->c.devices[0].baud, 9600);
	assert_int_equal(f->c.devices[1].baud, 921600);
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'pos','port':'/dev/a',"
		   "'baud':1234}]}",
		   "$.devices[0].baud", "must be a standard rate");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'probe','port':'/dev/a',"
		   "'baud':0}]}",
		   "$.devices[0].baud", "got 0");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'probe','port':'/dev/a',"
		   "'baud':-9600}]}",
		   "$.devices[0].baud", "got -9600");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'probe','port':'/dev/a',"
		   "'baud':'115200'}]}",
		   "$.devices[0].baud", "got \"115200\"");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'probe','port':'/dev/a',"
		   "'baud':1e20}]}",
		   "$.devices[0].baud", "got 1e+20");
}

static void test_device_names(void **state)
{
	struct fx *f = *state;

	/* the same name on two kinds is still a duplicate; reported at the later one */
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'x','kind':'pos','port':'/dev/a'},"
		   "{'name':'y','kind':'probe','port':'/dev/b'},"
		   "{'name':'x','kind':'camera','chip':'g','line_a':1}]}",
		   "$.devices[2].name", "duplicate device name \"x\" (also $.devices[0])");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'a b','kind':'pos','port':'/dev/a'}]}",
		   "$.devices[0].name", "must match [A-Za-z0-9_.-]{1,32}, got \"a b\"");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'','kind':'pos','port':'/dev/a'}]}",
		   "$.devices[0].name", "must not be empty");
	expect_one(f, "{'store_id':'S1','devices':[{'kind':'pos','port':'/dev/a'}]}",
		   "$.devices[0].name", "required key is missing");
	/* an unknown kind is one error; its other keys are not demanded */
	expect_one(f, "{'store_id':'S1','devices':[{'name':'a','kind':'printer'}]}",
		   "$.devices[0].kind",
		   "must be one of \"pos\", \"probe\", \"camera\", \"esl\", \"screen\", got "
		   "\"printer\"");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'a','port':'/dev/a'}]}",
		   "$.devices[0].kind", "required key is missing");
	/* ... but the keys present are still checked */
	assert_int_equal(parse(f, "{'store_id':'S1','devices':[{'name':'a','kind':'x',"
				  "'baud':'fast','colour':1}]}"),
			 -EINVAL);
	assert_int_equal(f->e.n_total, 3);
	expect_err(f, "$.devices[0].baud", "got \"fast\"");
	expect_err(f, "$.devices[0].kind", "got \"x\"");
	expect_err(f, "$.devices[0].colour", "unknown key");
}

static void test_duplicate_ports(void **state)
{
	struct fx *f = *state;

	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'p','kind':'probe','port':'/dev/ttyUSB1'},"
		   "{'name':'t','kind':'pos','port':'/dev/ttyUSB0'},"
		   "{'name':'e','kind':'esl','port':'/dev/ttyUSB1'}]}",
		   "$.devices[2].port",
		   "port \"/dev/ttyUSB1\" is already used by $.devices[0] (\"p\")");
	/* cameras may not share a line of the same chip */
	expect_one(f,
		   "{'store_id':'S1','devices':["
		   "{'name':'a','kind':'camera','chip':'gpiochip0','line_a':17,'line_b':18},"
		   "{'name':'b','kind':'camera','chip':'gpiochip1','line_a':17},"
		   "{'name':'c','kind':'camera','chip':'gpiochip0','line_a':5,'line_b':18}]}",
		   "$.devices[2].line_b", "line 18 of gpiochip0 is already used by $.devices[0]");
}

static void test_camera(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g'}]}",
		   "$.devices[0].line_a", "required key is missing");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'c','kind':'camera','line_a':1}]}",
		   "$.devices[0].chip", "required key is missing");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':17,'line_b':17}]}",
		   "$.devices[0].line_b", "must differ from line_a (both are 17)");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1024}]}",
		   "$.devices[0].line_a", "must be an integer 0..1023, got 1024");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1,'line_b':-1}]}",
		   "$.devices[0].line_b", "got -1");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1,'debounce_ms':10001}]}",
		   "$.devices[0].debounce_ms", "must be an integer 0..10000, got 10001");
}

static void test_serial_and_screen(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','devices':[{'name':'t','kind':'pos'}]}",
		   "$.devices[0].port", "required key is missing");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'t','kind':'esl','port':''}]}",
		   "$.devices[0].port", "must not be empty");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t','kind':'pos','port':'/dev/a',"
		   "'format':'csv'}]}",
		   "$.devices[0].format", "must be \"jsonl\", got \"csv\"");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'s','kind':'screen'}]}",
		   "$.devices[0].url", "required key is missing");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'ftp://x/'}]}",
		   "$.devices[0].url", "must start with http:// or https://, got \"ftp://x/\"");
	expect_one(f, "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'https://'}]}",
		   "$.devices[0].url", "has no host");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen',"
		   "'url':'http://x/a b'}]}",
		   "$.devices[0].url", "must not contain spaces");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'zone':5}]}",
		   "$.devices[0].zone", "must be a string, got 5");
}

/* A screen's tills, max_items, name and zone; the "screens" section. */
static void test_screen_tills(void **state)
{
	struct fx *f = *state;
	const struct device_conf *d;

	parse_ok(f, "{'store_id':'S1','devices':[{'name':'till1','kind':'pos','port':'/dev/a'},"
		    "{'name':'till2','kind':'pos','port':'/dev/b'},"
		    "{'name':'scr-exit','kind':'screen','url':'http://x/c','zone':'exit',"
		    "'tills':['till2','till1'],'max_items':6}],"
		    "'screens':{'timeout_ms':500,'backoff_min_ms':200,'backoff_max_ms':900,"
		    "'zone_rise_min':3}}");
	d = &f->c.devices[2];
	assert_int_equal(d->n_tills, 2);
	assert_string_equal(d->tills[0], "till2");
	assert_string_equal(d->tills[1], "till1");
	assert_int_equal(d->max_items, 6);
	assert_int_equal(f->c.screens.timeout_ms, 500);
	assert_int_equal(f->c.screens.backoff_min_ms, 200);
	assert_int_equal(f->c.screens.backoff_max_ms, 900);
	assert_int_equal(f->c.screens.zone_rise_min, 3);
	/* defaults */
	parse_ok(f, "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x'}]}");
	assert_int_equal(f->c.devices[0].n_tills, 0);
	assert_int_equal(f->c.devices[0].max_items, 4);
	assert_int_equal(f->c.screens.timeout_ms, 2000);
	assert_int_equal(f->c.screens.backoff_min_ms, 1000);
	assert_int_equal(f->c.screens.backoff_max_ms, 60000);
	assert_int_equal(f->c.screens.zone_rise_min, 10);

	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'tills':['till9']}]}",
		   "$.devices[0].tills[0]", "no device named \"till9\"");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'p','kind':'probe','port':'/dev/a'},"
		   "{'name':'s','kind':'screen','url':'http://x','tills':['p']}]}",
		   "$.devices[1].tills[0]", "\"p\" is a probe device, not a till (pos)");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t','kind':'pos','port':'/dev/a'},"
		   "{'name':'s','kind':'screen','url':'http://x','tills':['t','t']}]}",
		   "$.devices[1].tills[1]", "listed twice");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'tills':'t'}]}",
		   "$.devices[0].tills", "must be an array of POS device names");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'max_items':13}]}",
		   "$.devices[0].max_items", "must be an integer 1..12, got 13");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s.1','kind':'screen','url':'http://x'}]}",
		   "$.devices[0].name", "a screen's name must match [A-Za-z0-9_-]");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t','kind':'pos','port':'/dev/a',"
		   "'tills':['t']}]}",
		   "$.devices[0].tills", "");
	expect_one(f, "{'store_id':'S1','screens':{'backoff_min_ms':5000,'backoff_max_ms':1000}}",
		   "$.screens.backoff_max_ms", "must not be below backoff_min_ms (5000)");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://x',"
		   "'zone':'dairy\\tfront'}]}",
		   "$.devices[0].zone", "must not contain control characters");
	expect_one(f, "{'store_id':'S1','screens':{'timeout_ms':50}}", "$.screens.timeout_ms",
		   "must be an integer 100..60000, got 50");
	expect_one(f, "{'store_id':'S1','screens':{'zone_rise':5}}", "$.screens.zone_rise",
		   "unknown key");
}

static void test_tls(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','hq':{'tls':{'ca':'/a','cert':'/b'}}}", "$.hq.tls.key",
		   "required when \"cert\" is given");
	expect_one(f, "{'store_id':'S1','hq':{'tls':{'ca':'/a','key':'/c'}}}", "$.hq.tls.cert",
		   "required when \"key\" is given");
	expect_one(f, "{'store_id':'S1','hq':{'tls':{'cert':'/b','key':'/c'}}}", "$.hq.tls.ca",
		   "required when \"cert\" is given");
	expect_one(f, "{'store_id':'S1','hq':{'tls':{}}}", "$.hq.tls.ca",
		   "required when \"tls\" is given");
	expect_one(f, "{'store_id':'S1','hq':{'tls':{'ca':''}}}", "$.hq.tls.ca",
		   "must not be empty");
	expect_one(f, "{'store_id':'S1','hq':{'password_file':'/p'}}", "$.hq.password_file",
		   "needs \"username\"");
}

static void test_hq_ranges(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','hq':{'port':0}}", "$.hq.port",
		   "must be an integer 1..65535, got 0");
	expect_one(f, "{'store_id':'S1','hq':{'port':65536}}", "$.hq.port",
		   "must be an integer 1..65535, got 65536");
	expect_one(f, "{'store_id':'S1','hq':{'port':-1883}}", "$.hq.port", "got -1883");
	parse_ok(f, "{'store_id':'S1','hq':{'port':65535}}");
	assert_int_equal(f->c.hq.port, 65535);
	expect_one(f, "{'store_id':'S1','hq':{'keepalive':4}}", "$.hq.keepalive", "5..3600");
	expect_one(f, "{'store_id':'S1','hq':{'batch_max_events':0}}", "$.hq.batch_max_events",
		   "1..10000, got 0");
	expect_one(f, "{'store_id':'S1','hq':{'batch_max_bytes':1023}}", "$.hq.batch_max_bytes",
		   "1024..8388608, got 1023");
	expect_one(f, "{'store_id':'S1','hq':{'max_inflight':1001}}", "$.hq.max_inflight",
		   "1..1000, got 1001");
	expect_one(f, "{'store_id':'S1','outbox':{'max_mb':0}}", "$.outbox.max_mb",
		   "1..65536, got 0");
	expect_one(f, "{'store_id':'S1','hq':{'backoff_min_ms':1000,'backoff_max_ms':500}}",
		   "$.hq.backoff_min_ms",
		   "backoff_min_ms (1000) must not exceed backoff_max_ms (500)");
	expect_one(f, "{'store_id':'S1','hq':{'backoff_max_ms':100}}", "$.hq.backoff_max_ms",
		   "backoff_min_ms (500, the default) must not exceed backoff_max_ms (100)");
	expect_one(f, "{'store_id':'S1','hq':{'host':''}}", "$.hq.host", "must not be empty");
}

static void test_topic_prefix(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','hq':{'topic_prefix':'a/+/b'}}", "$.hq.topic_prefix",
		   "must not contain '+' or '#'");
	expect_one(f, "{'store_id':'S1','hq':{'topic_prefix':'a/#'}}", "$.hq.topic_prefix",
		   "must not contain '+' or '#'");
	expect_one(f, "{'store_id':'S1','hq':{'topic_prefix':'/shelf'}}", "$.hq.topic_prefix",
		   "must not begin or end with '/'");
	expect_one(f, "{'store_id':'S1','hq':{'topic_prefix':'shelf/'}}", "$.hq.topic_prefix",
		   "must not begin or end with '/'");
	expect_one(f, "{'store_id':'S1','hq':{'topic_prefix':''}}", "$.hq.topic_prefix",
		   "must not be empty");
	parse_ok(f, "{'store_id':'S1','hq':{'topic_prefix':'x'}}");
	assert_string_equal(f->c.hq.topic_prefix, "x");
}

static void test_prices_section(void **state)
{
	struct fx *f = *state;

	parse_ok(f, "{'store_id':'S1'}");
	assert_true(f->c.prices.snapshot_remove_missing);
	assert_int_equal(f->c.prices.label_summary_min, 15);
	parse_ok(f,
		 "{'store_id':'S1','prices':{'snapshot_missing':'keep','label_summary_min':60}}");
	assert_false(f->c.prices.snapshot_remove_missing);
	assert_int_equal(f->c.prices.label_summary_min, 60);
	expect_one(f, "{'store_id':'S1','prices':{'snapshot_missing':'drop'}}",
		   "$.prices.snapshot_missing", "must be one of \"not_for_sale\", \"keep\"");
	expect_one(f, "{'store_id':'S1','prices':{'label_summary_min':0}}",
		   "$.prices.label_summary_min", "1..1440");
	expect_one(f, "{'store_id':'S1','prices':{'snapshot_missng':'keep'}}",
		   "$.prices.snapshot_missng", "unknown key");
}

static void test_sensing_section(void **state)
{
	struct fx *f = *state;

	parse_ok(f, "{'store_id':'S1'}");
	assert_int_equal(f->c.sensing.rssi_in, -70);
	assert_int_equal(f->c.sensing.silence_min, 15);
	assert_int_equal(f->c.sensing.passer_max_min, 2);
	assert_int_equal(f->c.sensing.engaged_min, 10);
	assert_int_equal(f->c.sensing.open_min, 8 * 60);
	assert_int_equal(f->c.sensing.close_min, 22 * 60);
	assert_int_equal(f->c.sensing.interval_min, 5);
	assert_string_equal(f->c.sensing.entrance_zone, "entrance");
	parse_ok(f, "{'store_id':'S1','sensing':{'rssi_in':-65,'open':'07:30','close':'24:00',"
		    "'interval_min':15,'entrance_zone':'door-north','staff_share_pct':60}}");
	assert_int_equal(f->c.sensing.rssi_in, -65);
	assert_int_equal(f->c.sensing.open_min, 7 * 60 + 30);
	assert_int_equal(f->c.sensing.close_min, 24 * 60);
	assert_int_equal(f->c.sensing.interval_min, 15);
	assert_int_equal(f->c.sensing.staff_share_pct, 60);
	assert_string_equal(f->c.sensing.entrance_zone, "door-north");
	expect_one(f, "{'store_id':'S1','sensing':{'open':'8:00'}}", "$.sensing.open",
		   "must be a local time \"HH:MM\" (00:00..24:00), got \"8:00\"");
	expect_one(f, "{'store_id':'S1','sensing':{'close':'24:01'}}", "$.sensing.close", "HH:MM");
	expect_one(f, "{'store_id':'S1','sensing':{'close':'21:60'}}", "$.sensing.close", "HH:MM");
	expect_one(f, "{'store_id':'S1','sensing':{'open':800}}", "$.sensing.open", "HH:MM");
	expect_one(f, "{'store_id':'S1','sensing':{'interval_min':7}}", "$.sensing.interval_min",
		   "must divide a day (1440 minutes), got 7");
	expect_one(f, "{'store_id':'S1','sensing':{'rssi_in':0}}", "$.sensing.rssi_in", "-120..-1");
	expect_one(f, "{'store_id':'S1','sensing':{'repeat_days':31}}", "$.sensing.repeat_days",
		   "1..30");
	expect_one(f, "{'store_id':'S1','sensing':{'passer_max_min':20}}",
		   "$.sensing.passer_max_min", "must not exceed engaged_min (10)");
	expect_one(f, "{'store_id':'S1','sensing':{'silense_min':5}}", "$.sensing.silense_min",
		   "unknown key (did you mean \"silence_min\"?)");
	/* A probe may name its zone; a POS may not. */
	parse_ok(f, "{'store_id':'S1','devices':[{'name':'p1','kind':'probe','port':'/dev/ttyUSB1',"
		    "'zone':'floor'}]}");
	assert_string_equal(f->c.devices[0].zone, "floor");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'t1','kind':'pos','port':'/dev/x',"
		   "'zone':'floor'}]}",
		   "$.devices[0].zone", "pos");
}

static void test_float_where_integer(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','hq':{'keepalive':30.5}}", "$.hq.keepalive",
		   "must be an integer 5..3600, got 30.5");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'a','kind':'pos','port':'/dev/a',"
		   "'baud':115200.5}]}",
		   "$.devices[0].baud", "got 115200.5");
	expect_one(f,
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1,'debounce_ms':0.001}]}",
		   "$.devices[0].debounce_ms", "got 0.001");
	/* an exponent is fine when the value is whole */
	parse_ok(f, "{'store_id':'S1','hq':{'port':1.883e3},'outbox':{'max_mb':1E3}}");
	assert_int_equal(f->c.hq.port, 1883);
	assert_int_equal(f->c.outbox.max_mb, 1000);
}

/* Build "{'store_id':'S1',KEY:'<n x's>'...}" in @buf: a string @n bytes long. */
static void long_value(char *buf, size_t sz, const char *before, size_t n, const char *after)
{
	size_t len;

	snprintf(buf, sz, "%s", before);
	len = strlen(buf);
	assert_true(len + n + strlen(after) < sz);
	memset(buf + len, 'x', n);
	snprintf(buf + len + n, sz - len - n, "%s", after);
}

static void test_too_long_strings(void **state)
{
	struct fx *f = *state;
	char json[2048];

	/* sun_path is 108 bytes: 107 characters fit, 108 do not */
	long_value(json, sizeof(json), "{'store_id':'S1','control_socket':'/", 106, "'}");
	parse_ok(f, json);
	assert_int_equal(strlen(f->c.control_socket), 107);
	long_value(json, sizeof(json), "{'store_id':'S1','control_socket':'/", 107, "'}");
	expect_one(f, json, "$.control_socket", "too long: 108 bytes, at most 107");

	long_value(json, sizeof(json), "{'store_id':'S1','data_dir':'/", 255, "'}");
	expect_one(f, json, "$.data_dir", "too long: 256 bytes, at most 255");
	long_value(json, sizeof(json), "{'store_id':'S1','hq':{'topic_prefix':'", 128, "'}}");
	expect_one(f, json, "$.hq.topic_prefix", "too long: 128 bytes, at most 127");
	long_value(json, sizeof(json), "{'store_id':'S1','hq':{'tls':{'ca':'", 300, "'}}}");
	expect_one(f, json, "$.hq.tls.ca", "too long: 300 bytes, at most 255");
	long_value(json, sizeof(json),
		   "{'store_id':'S1','devices':[{'kind':'pos','port':'/dev/a','name':'", 33,
		   "'}]}");
	expect_one(f, json, "$.devices[0].name", "too long: 33 bytes, at most 32");
	long_value(json, sizeof(json),
		   "{'store_id':'S1','devices':[{'kind':'pos','port':'/dev/a','name':'", 32,
		   "'}]}");
	parse_ok(f, json);
	long_value(json, sizeof(json),
		   "{'store_id':'S1','devices':[{'name':'s','kind':'screen','url':'http://", 600,
		   "'}]}");
	expect_one(f, json, "$.devices[0].url", "too long: 607 bytes, at most 511");
	long_value(json, sizeof(json),
		   "{'store_id':'S1','devices':[{'name':'c','kind':'camera','chip':'g',"
		   "'line_a':1,'zone':'",
		   64, "'}]}");
	expect_one(f, json, "$.devices[0].zone", "too long: 64 bytes, at most 63");
	/* an over-long unknown key: its path is cut, not overflowed */
	long_value(json, sizeof(json), "{'store_id':'S1','", 500, "':1}");
	assert_int_equal(parse(f, json), -EINVAL);
	assert_int_equal(f->e.n_total, 1);
	assert_int_equal(strlen(f->e.e[0].path), sizeof(f->e.e[0].path) - 1);
}

static void test_too_many_devices(void **state)
{
	struct fx *f = *state;
	size_t cap = 100 * 80, len, i;
	char *json = malloc(cap);

	assert_non_null(json);
	len = (size_t)snprintf(json, cap, "{'store_id':'S1','devices':[");
	for (i = 0; i < CONF_MAX_DEVICES + 2; i++)
		len += (size_t)snprintf(json + len, cap - len,
					"%s{'name':'d%zu','kind':'probe','port':'/dev/p%zu'}",
					i ? "," : "", i, i);
	/* the last one (past the limit) is also wrong: still reported */
	snprintf(json + len, cap - len, ",{'name':'bad','kind':'pos'}]}");
	assert_int_equal(parse(f, json), -EINVAL);
	free(json);
	assert_int_equal(f->e.n_total, 2);
	expect_err(f, "$.devices", "too many devices: 67, at most 64");
	expect_err(f, "$.devices[66].port", "required key is missing");
	assert_int_equal(f->c.n_devices, CONF_MAX_DEVICES);
}

/* More errors than CONF_MAX_ERRORS: the first are kept, all are counted. */
static void test_error_cap(void **state)
{
	struct fx *f = *state;
	size_t cap = 100 * 16, len, i;
	char *json = malloc(cap);

	assert_non_null(json);
	len = (size_t)snprintf(json, cap, "{'store_id':'S1'");
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(json + len, cap - len, ",'k%zu':1", i);
	snprintf(json + len, cap - len, "}");
	assert_int_equal(parse(f, json), -EINVAL);
	free(json);
	assert_int_equal(f->e.n, CONF_MAX_ERRORS);
	assert_int_equal(f->e.n_total, 100);
	assert_string_equal(f->e.e[0].path, "$.k0");
	assert_string_equal(f->e.e[CONF_MAX_ERRORS - 1].path, "$.k63");
}

/* Control characters in keys never reach an error line. */
static void test_error_text_sanitized(void **state)
{
	struct fx *f = *state;

	expect_one(f, "{'store_id':'S1','a\\u001b[31m':1}", "$.a?[31m", "unknown key");
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_load_missing(void **state)
{
	struct fx *f = *state;
	char msg[192];

	assert_int_equal(config_load("/nonexistent/shelfd.json", &f->c, &f->e), -ENOENT);
	assert_int_equal(f->e.n, 1);
	assert_int_equal(f->e.n_total, 1);
	assert_string_equal(f->e.e[0].path, "$");
	snprintf(msg, sizeof(msg), "cannot open /nonexistent/shelfd.json: %s", strerror(ENOENT));
	assert_string_equal(f->e.e[0].msg, msg);
	/* a directory cannot be read */
	assert_int_equal(config_load("/", &f->c, &f->e), -EISDIR);
	assert_string_equal(f->e.e[0].path, "$");
	assert_int_equal(config_load(NULL, &f->c, &f->e), -EINVAL);
}

static void test_load_file(void **state)
{
	static const char bad[] = "{\"store_id\": \"fleet\", \"hq\": {\"port\": 0}}";
	struct fx *f = *state;
	char path[] = "/tmp/test_config_XXXXXX";
	size_t len = strlen(design_example), i;
	char *text = malloc(len + 1);
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_non_null(text);
	for (i = 0; i <= len; i++)
		text[i] = design_example[i] == '\'' ? '"' : design_example[i];
	write_file(path, text, len);
	free(text);

	rc = config_load(path, &f->c, &f->e);
	if (rc != 0)
		dump(&f->e);
	assert_int_equal(rc, 0);
	assert_int_equal(f->e.n_total, 0);
	assert_string_equal(f->c.store_id, "S042");
	assert_int_equal(f->c.n_devices, 5);
	assert_string_equal(f->c.devices[4].url, "http://10.0.0.21:8080/content");

	/* a file with errors: -EINVAL and the errors */
	write_file(path, bad, strlen(bad));
	assert_int_equal(config_load(path, &f->c, &f->e), -EINVAL);
	assert_int_equal(f->e.n_total, 2);
	expect_err(f, "$.store_id", "reserved");
	expect_err(f, "$.hq.port", "got 0");

	assert_int_equal(unlink(path), 0);
}

static void test_load_too_big(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/test_config_XXXXXX";
	size_t len = 1024 * 1024 + 1;
	char *text = malloc(len);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_non_null(text);
	/* valid JSON padded with spaces: refused for its size alone */
	memset(text, ' ', len);
	memcpy(text, "{\"store_id\":\"S1\"}", 17);
	write_file(path, text, len);
	assert_int_equal(config_load(path, &f->c, &f->e), -EFBIG);
	assert_int_equal(f->e.n_total, 1);
	expect_err(f, "$", "larger than 1048576 bytes");
	/* exactly 1 MiB is accepted */
	write_file(path, text, len - 1);
	assert_int_equal(config_load(path, &f->c, &f->e), 0);
	assert_string_equal(f->c.store_id, "S1");
	/* the same bound holds for config_parse */
	assert_int_equal(config_parse(text, len, &f->c, &f->e), -EINVAL);
	expect_err(f, "$", "too large");
	free(text);
	assert_int_equal(unlink(path), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_kind_names),
		T(test_design_example),
		T(test_all_keys_non_default),
		T(test_defaults_minimal),
		T(test_device_defaults),
		T(test_tls_default_port),
		T(test_comments),
		T(test_syntax_error_position),
		T(test_input_hygiene),
		T(test_multiple_errors),
		T(test_unknown_keys),
		T(test_wrong_types),
		T(test_store_id),
		T(test_baud),
		T(test_device_names),
		T(test_duplicate_ports),
		T(test_camera),
		T(test_serial_and_screen),
		T(test_screen_tills),
		T(test_tls),
		T(test_hq_ranges),
		T(test_topic_prefix),
		T(test_prices_section),
		T(test_sensing_section),
		T(test_float_where_integer),
		T(test_too_long_strings),
		T(test_too_many_devices),
		T(test_error_cap),
		T(test_error_text_sanitized),
		T(test_load_missing),
		T(test_load_file),
		T(test_load_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
