/*
 * fetch: libcurl multi-socket downloads driven by our loop. See fetch.h.
 *
 * How libcurl and the loop meet is curlloop's business (curlloop.h): it
 * watches libcurl's sockets and timer on the loop and calls job_done for
 * each finished easy handle.
 *
 * A job moves FREE -> HASHING (re-hash an existing part, bounded per turn)
 * -> RUNNING (an easy handle in the multi) -> DONE (result ready) -> FREE.
 * The user's callback runs from the work timer (on_work), one job per
 * firing, as the last thing done, so it may free everything.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "curlloop.h"
#include "fetch.h"
#include "log.h"
#include "util.h"
#include "version.h"

/* Re-hash at most this much of an existing part per loop turn. */
#define REHASH_PER_TURN (1u << 20)
#define REHASH_CHUNK (64u * 1024u)
#define WHY_MAX 256
#define LOGURL_MAX 160

enum job_state { JOB_FREE = 0, JOB_HASHING, JOB_RUNNING, JOB_DONE };

/* What the headers of the current response said (reset per status line). */
struct resp {
	int code; /* 0 until a status line was seen */
	bool has_location;
	bool has_clen;
	uint64_t clen;
	bool has_crange; /* "bytes a-b/t" or "bytes * /t" */
	bool cr_star; /* "bytes * /t" (416) */
	uint64_t cr_start;
	bool cr_has_total;
	uint64_t cr_total;
};

struct job {
	enum job_state state;
	int id;
	struct fetch *f;
	fetch_done_cb cb;
	void *arg;

	char url[FETCH_URL_MAX + 1];
	char logurl[LOGURL_MAX];
	char dest[PATH_MAX];
	char part[PATH_MAX];
	char ca_file[PATH_MAX]; /* empty: system default */
	char proxy[FETCH_URL_MAX + 1]; /* empty: no proxy */
	bool https;
	uint64_t max_bytes;
	uint64_t expect_size;
	char expect_sha256[65]; /* empty: none */
	unsigned timeout_s;
	unsigned low_speed_s;

	int fd; /* the part, -1 when closed */
	EVP_MD_CTX *md;
	uint64_t have; /* bytes of the existing part (HASHING) */
	uint64_t bytes; /* bytes hashed and in the file: the write offset */
	uint64_t resume_from; /* Range start of the current request */
	bool restarted; /* a 416 restart from 0 was done already */

	CURL *easy;
	struct curlloop_xfer xfer; /* job_done(this job) */
	char errbuf[CURL_ERROR_SIZE];
	struct resp resp;
	bool accepted; /* the final response passed the checks: body goes to the file */
	bool has_total; /* the accepted response said how big the whole file is */
	uint64_t total;
	int err; /* our own reason to abort (header/write callbacks), 0 if none */
	bool part_whole; /* 416 says the part is the whole file */
	bool restart; /* 416 for another size: start again from 0 */

	int status; /* DONE: the result */
	char why[WHY_MAX];
};

struct fetch {
	struct loop *loop;
	struct curlloop *cl;
	bool closing;
	int work_timer; /* loop timer id for hashing and callbacks, 0 if none */
	int next_id;
	unsigned char *buf; /* REHASH_CHUNK bytes */
	struct job jobs[FETCH_MAX_JOBS];
};

static void job_finish(struct job *j, int status);
static void job_done(void *arg, CURL *easy, CURLcode result);
static void job_fail(struct job *j, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The URL without user info, query or fragment, cut to fit: safe to log. */
static void url_for_log(const char *url, char *out, size_t outsz)
{
	const char *host = strstr(url, "://");
	const char *at, *end, *p;
	size_t n = 0;

	host = host ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	for (p = url; *p && *p != '?' && *p != '#' && n + 1 < outsz; p++) {
		if (at && p == host)
			p = at + 1;
		out[n++] = *p;
	}
	out[n] = '\0';
}

static void kick(struct fetch *f);

/* ---- header and body callbacks (inside libcurl: never free the easy) ---- */

/* Parse a decimal uint64 at *@p, advancing it. False if none or overflow. */
static bool parse_u64(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end || !isdigit((unsigned char)*s))
		return false;
	for (; s < end && isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* If @line starts with header @name (case-insensitive, then ':'), its value. */
static const char *header_value(const char *line, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - line) <= n || strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	return skip_ws(line + n + 1, end);
}

/* "bytes a-b/t", "bytes a-b/ *" or "bytes * /t" (without the spaces). */
static void parse_content_range(struct resp *rs, const char *p, const char *end)
{
	uint64_t end_pos;

	if ((size_t)(end - p) < 6 || strncasecmp(p, "bytes", 5))
		return;
	p = skip_ws(p + 5, end);
	if (p < end && *p == '*') {
		rs->cr_star = true;
		p++;
	} else {
		if (!parse_u64(&p, end, &rs->cr_start) || p >= end || *p++ != '-' ||
		    !parse_u64(&p, end, &end_pos) || end_pos < rs->cr_start)
			return;
	}
	if (p >= end || *p++ != '/')
		return;
	rs->has_crange = true;
	if (p < end && *p == '*')
		return;
	rs->cr_has_total = parse_u64(&p, end, &rs->cr_total);
	if (!rs->cr_has_total && rs->cr_star)
		rs->has_crange = false;
}

static void job_set_err(struct job *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void job_set_err(struct job *j, int err, const char *fmt, ...)
{
	va_list ap;

	if (j->err)
		return; /* keep the first reason */
	j->err = err;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
}

/* Start the file over at 0 (the server sent the whole file). */
static int job_truncate(struct job *j)
{
	if (ftruncate(j->fd, 0) < 0)
		return -errno;
	if (EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	j->bytes = 0;
	return 0;
}

/*
 * The headers of a final response are in: decide whether its body is the
 * file (accepted) or the transfer must stop. False to abort.
 */
static bool headers_done(struct job *j)
{
	struct resp *rs = &j->resp;
	uint64_t total = 0;
	bool has_total = false;
	int rc;

	if (rs->code >= 100 && rs->code < 200)
		return true; /* interim; the real status line follows */
	if (rs->code >= 300 && rs->code < 400 && rs->has_location)
		return true; /* libcurl follows it (within CURLOPT_MAXREDIRS) */
	if (rs->code == 416 && j->resume_from > 0) {
		if (rs->has_crange && rs->cr_star && rs->cr_has_total &&
		    rs->cr_total == j->resume_from)
			j->part_whole = true;
		else
			j->restart = true;
		return false;
	}
	if (rs->code != 200 && rs->code != 206) {
		job_set_err(j, -EPROTO, "HTTP %d", rs->code);
		return false;
	}
	if (rs->code == 206) {
		if (!j->resume_from || !rs->has_crange || rs->cr_star ||
		    rs->cr_start != j->resume_from) {
			job_set_err(j, -EPROTO, "unexpected Content-Range (asked from %" PRIu64 ")",
				    j->resume_from);
			return false;
		}
		if (rs->cr_has_total) {
			total = rs->cr_total;
			has_total = true;
		} else if (rs->has_clen) {
			total = j->resume_from + rs->clen;
			has_total = true;
		}
	} else {
		if (j->resume_from > 0) {
			log_info("fetch %s: server ignored Range, restarting from 0", j->logurl);
			rc = job_truncate(j);
			if (rc) {
				job_set_err(j, rc, "truncate %s: %s", j->part, strerror(-rc));
				return false;
			}
		}
		total = rs->clen;
		has_total = rs->has_clen;
	}
	if (has_total && total > j->max_bytes) {
		job_set_err(j, -EFBIG, "size %" PRIu64 " over the limit %" PRIu64, total,
			    j->max_bytes);
		return false;
	}
	if (has_total && j->expect_size && total != j->expect_size) {
		job_set_err(j, -EBADMSG, "size %" PRIu64 ", expected %" PRIu64, total,
			    j->expect_size);
		return false;
	}
	j->has_total = has_total;
	j->total = total;
	j->accepted = true;
	return true;
}

/* CURLOPT_HEADERFUNCTION: one whole header line (with its CRLF) per call. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userp)
{
	struct job *j = userp;
	size_t n = size * nitems, len = n; /* size is always 1 */
	const char *end, *v;

	if (j->err)
		return 0;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	end = buf + len;
	if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
		const char *p = memchr(buf, ' ', len);
		uint64_t code;

		memset(&j->resp, 0, sizeof(j->resp));
		j->accepted = false;
		j->has_total = false;
		p = skip_ws(p ? p : end, end);
		if (parse_u64(&p, end, &code) && code < 1000)
			j->resp.code = (int)code;
		return n;
	}
	if (j->accepted)
		return n; /* trailers: not ours */
	if (!len) {
		if (!j->resp.code) {
			job_set_err(j, -EPROTO, "no HTTP status line");
			return 0;
		}
		return headers_done(j) ? n : 0;
	}
	if ((v = header_value(buf, end, "content-length"))) {
		j->resp.has_clen = parse_u64(&v, end, &j->resp.clen);
	} else if ((v = header_value(buf, end, "content-range"))) {
		parse_content_range(&j->resp, v, end);
	} else if (header_value(buf, end, "location")) {
		j->resp.has_location = true;
	}
	return n;
}

/* CURLOPT_WRITEFUNCTION: body bytes of the accepted response. */
static size_t on_body(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct job *j = userp;
	size_t n = size * nmemb, done = 0; /* size is always 1 */

	if (j->err)
		return 0;
	if (!j->accepted) {
		job_set_err(j, -EPROTO, "body before an accepted response (HTTP %d)", j->resp.code);
		return 0;
	}
	if (n > j->max_bytes - j->bytes) {
		job_set_err(j, -EFBIG, "more than %" PRIu64 " bytes", j->max_bytes);
		return 0;
	}
	if (j->expect_size && n > j->expect_size - j->bytes) {
		job_set_err(j, -EBADMSG, "more than the expected %" PRIu64 " bytes",
			    j->expect_size);
		return 0;
	}
	while (done < n) {
		ssize_t w = pwrite(j->fd, buf + done, n - done, (off_t)(j->bytes + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;

			job_set_err(j, -err, "write %s: %s", j->part, strerror(err));
			return 0;
		}
		done += (size_t)w;
	}
	if (EVP_DigestUpdate(j->md, buf, n) != 1) {
		job_set_err(j, -ENOMEM, "sha256 update failed");
		return 0;
	}
	j->bytes += n;
	return n;
}

/* ---- job life ---- */

static struct job *job_by_id(struct fetch *f, int id)
{
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		if (f->jobs[i].state != JOB_FREE && f->jobs[i].id == id)
			return &f->jobs[i];
	}
	return NULL;
}

static void job_drop_easy(struct job *j)
{
	if (!j->easy)
		return;
	curlloop_remove(j->f->cl, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
}

static void job_close_fd(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

/* Back to FREE (no callback). */
static void job_release(struct job *j)
{
	job_drop_easy(j);
	job_close_fd(j);
	EVP_MD_CTX_free(j->md);
	j->md = NULL;
	j->state = JOB_FREE;
	j->id = 0;
}

#define SETOPT(e, opt, val)                                                                        \
	do {                                                                                       \
		if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)                               \
			goto err_cleanup;                                                          \
	} while (0)

/* Create the easy handle for a request from j->resume_from and add it. */
static int job_transfer(struct job *j)
{
	char range[32];
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	memset(&j->resp, 0, sizeof(j->resp));
	j->accepted = false;
	j->has_total = false;
	j->err = 0;
	j->part_whole = false;
	j->restart = false;
	j->errbuf[0] = '\0';
	j->why[0] = '\0';
	SETOPT(e, CURLOPT_URL, j->url);
	SETOPT(e, CURLOPT_ERRORBUFFER, j->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, j->https ? "https" : "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(e, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	SETOPT(e, CURLOPT_USERAGENT, "shelfd/" SHELFD_VERSION);
	/* "" disables proxies, environment variables included. */
	SETOPT(e, CURLOPT_PROXY, j->proxy);
	if (j->proxy[0])
		SETOPT(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (j->ca_file[0]) {
		SETOPT(e, CURLOPT_CAINFO, j->ca_file);
		SETOPT(e, CURLOPT_CAPATH, NULL);
	}
	SETOPT(e, CURLOPT_TIMEOUT, (long)j->timeout_s);
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME, (long)j->low_speed_s);
	SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(e, CURLOPT_HEADERDATA, j);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, CURLOPT_WRITEDATA, j);
	if (j->resume_from) {
		/*
		 * CURLOPT_RANGE, not CURLOPT_RESUME_FROM: with the latter libcurl
		 * fails on a 200 answer, and we want to restart from 0 instead.
		 */
		snprintf(range, sizeof(range), "%" PRIu64 "-", j->resume_from);
		SETOPT(e, CURLOPT_RANGE, range);
	}
	j->easy = e;
	j->xfer.done = job_done;
	j->xfer.arg = j;
	if (curlloop_add(j->f->cl, e, &j->xfer)) {
		j->easy = NULL;
		goto err_cleanup;
	}
	j->state = JOB_RUNNING;
	log_info("fetch %s: %s from byte %" PRIu64, j->logurl,
		 j->resume_from ? "resuming" : "starting", j->resume_from);
	return 0;

err_cleanup:
	curl_easy_cleanup(e);
	return -ENOMEM;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	if (str_copy(dir, sizeof(dir), path))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		str_copy(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static bool digest_matches(struct job *j, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (EVP_DigestFinal_ex(j->md, md, &mdlen) != 1 || mdlen != 32)
		return false;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return !j->expect_sha256[0] || !strcmp(hex, j->expect_sha256);
}

/* The body is complete: check size and hash, then publish the file. */
static int job_commit(struct job *j)
{
	char hex[65];
	int rc;

	if (j->expect_size && j->bytes != j->expect_size) {
		snprintf(j->why, sizeof(j->why), "size %" PRIu64 ", expected %" PRIu64, j->bytes,
			 j->expect_size);
		return -EBADMSG;
	}
	if (!digest_matches(j, hex)) {
		snprintf(j->why, sizeof(j->why), "sha256 %s, expected %s", hex, j->expect_sha256);
		return -EBADMSG;
	}
	if (fsync(j->fd) < 0) {
		rc = -errno;
		snprintf(j->why, sizeof(j->why), "fsync %s: %s", j->part, strerror(errno));
		return rc;
	}
	job_close_fd(j);
	if (rename(j->part, j->dest) < 0) {
		rc = -errno;
		snprintf(j->why, sizeof(j->why), "rename to %s: %s", j->dest, strerror(errno));
		return rc;
	}
	rc = fsync_dir_of(j->dest);
	if (rc) {
		snprintf(j->why, sizeof(j->why), "fsync directory of %s: %s", j->dest,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

/*
 * End the job with @status (0: verify and publish the part first; else
 * j->why says why) and queue its callback. Content known bad (too large,
 * wrong hash) loses its part.
 */
static void job_finish(struct job *j, int status)
{
	job_drop_easy(j);
	if (!status)
		status = job_commit(j);
	job_close_fd(j);
	if (status == -EFBIG || status == -EBADMSG) {
		if (unlink(j->part) < 0 && errno != ENOENT)
			log_warn("fetch: unlink %s: %s", j->part, strerror(errno));
	}
	if (!status) {
		str_copy(j->why, sizeof(j->why), "ok");
		log_info("fetch %s: done, %" PRIu64 " bytes to %s", j->logurl, j->bytes, j->dest);
	} else {
		log_warn("fetch %s: failed after %" PRIu64 " bytes: %s (%s)", j->logurl, j->bytes,
			 j->why, strerror(-status));
	}
	j->status = status;
	j->state = JOB_DONE;
	kick(j->f);
}

/* End the job with @status (< 0) and a reason. */
static void job_fail(struct job *j, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	job_finish(j, status);
}

/* Translate a libcurl result, once, at the module edge. */
static int curl_status(struct job *j, CURLcode rc)
{
	long oserr = 0;

	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_HTTP_RETURNED_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_RANGE_ERROR:
		return -EPROTO;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* A transfer left the multi: classify, restart or finish it. */
static void job_ended(struct job *j, CURLcode rc)
{
	int status;

	if (j->err) {
		job_finish(j, j->err);
		return;
	}
	if (j->part_whole) {
		/* 416 for exactly our size: the part already is the file. */
		log_info("fetch %s: part already complete (%" PRIu64 " bytes)", j->logurl,
			 j->bytes);
		job_finish(j, 0);
		return;
	}
	if (j->restart && !j->restarted) {
		int err;

		log_info("fetch %s: range not satisfiable, restarting from 0", j->logurl);
		job_drop_easy(j);
		j->restarted = true;
		err = job_truncate(j);
		j->resume_from = 0;
		if (!err)
			err = job_transfer(j);
		if (err)
			job_fail(j, err, "restart: %s", strerror(-err));
		return;
	}
	if (j->restart) {
		job_fail(j, -EPROTO, "HTTP 416");
		return;
	}
	status = curl_status(j, rc);
	if (!status && !j->accepted) {
		job_fail(j, -EPROTO, "no usable response (HTTP %d)", j->resp.code);
		return;
	}
	if (!status && j->has_total && j->bytes != j->total) {
		/* e.g. a 206 that stopped short of the end it announced */
		job_fail(j, -EPROTO, "got %" PRIu64 " of %" PRIu64 " bytes", j->bytes, j->total);
		return;
	}
	if (status)
		job_fail(j, status, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
	else
		job_finish(j, 0);
}

/* curlloop_done_cb: a transfer of job @arg left the multi. */
static void job_done(void *arg, CURL *easy, CURLcode result)
{
	struct job *j = arg;

	if (j->easy != easy || j->state != JOB_RUNNING)
		return;
	job_ended(j, result);
}

/* Re-hash up to REHASH_PER_TURN bytes of an existing part. */
static void job_rehash_step(struct job *j)
{
	uint64_t budget = REHASH_PER_TURN;
	int err;

	while (j->bytes < j->have && budget) {
		size_t want = REHASH_CHUNK;
		ssize_t r;

		if (want > j->have - j->bytes)
			want = (size_t)(j->have - j->bytes);
		r = pread(j->fd, j->f->buf, want, (off_t)j->bytes);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			job_fail(j, err, "read %s: %s", j->part,
				 r < 0 ? strerror(errno) : "shrank");
			return;
		}
		if (EVP_DigestUpdate(j->md, j->f->buf, (size_t)r) != 1) {
			job_fail(j, -ENOMEM, "sha256 update failed");
			return;
		}
		j->bytes += (uint64_t)r;
		budget -= (uint64_t)r < budget ? (uint64_t)r : budget;
	}
	if (j->bytes < j->have)
		return;
	if (j->expect_size && j->bytes == j->expect_size) {
		log_info("fetch %s: part already complete (%" PRIu64 " bytes)", j->logurl,
			 j->bytes);
		job_finish(j, 0);
		return;
	}
	j->resume_from = j->bytes;
	err = job_transfer(j);
	if (err)
		job_fail(j, err, "cannot start the transfer: %s", strerror(-err));
}

/*
 * The work timer: re-hash parts a step further, then deliver one finished
 * job's callback, last, with the job already released.
 */
static void on_work(struct loop *l, void *arg)
{
	struct fetch *f = arg;
	struct job *done = NULL;
	fetch_done_cb cb;
	void *cb_arg;
	int status;
	uint64_t bytes;
	char why[WHY_MAX];

	f->work_timer = 0;
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		if (f->jobs[i].state == JOB_HASHING)
			job_rehash_step(&f->jobs[i]);
	}
	for (size_t i = 0; i < FETCH_MAX_JOBS && !done; i++) {
		if (f->jobs[i].state == JOB_DONE)
			done = &f->jobs[i];
	}
	if (done) {
		cb = done->cb;
		cb_arg = done->arg;
		status = done->status;
		bytes = done->bytes;
		str_copy(why, sizeof(why), done->why);
		job_release(done);
	}
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		if (f->jobs[i].state == JOB_HASHING || f->jobs[i].state == JOB_DONE)
			kick(f);
	}
	if (done)
		cb(cb_arg, status, why, bytes); /* may free f: nothing after this */
}

static void kick(struct fetch *f)
{
	int id;

	if (f->work_timer || f->closing)
		return;
	id = loop_timer_add(f->loop, 0, on_work, f);
	if (id < 0) {
		log_err("fetch: no loop timer: %s", strerror(-id));
		return;
	}
	f->work_timer = id;
}

/* ---- public API ---- */

int fetch_new(struct loop *loop, struct fetch **out)
{
	struct fetch *f;
	int rc;

	if (!loop || !out)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->buf = malloc(REHASH_CHUNK);
	if (!f->buf)
		goto err_free;
	rc = curlloop_new(loop, "fetch", &f->cl);
	if (rc)
		goto err_free_buf;
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		f->jobs[i].fd = -1;
		f->jobs[i].f = f;
	}
	f->loop = loop;
	f->next_id = 1;
	*out = f;
	return 0;

err_free_buf:
	free(f->buf);
err_free:
	free(f);
	return -ENOMEM;
}

void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		if (f->jobs[i].state != JOB_FREE)
			job_release(&f->jobs[i]);
	}
	loop_timer_del(f->loop, f->work_timer);
	f->closing = true;
	curlloop_free(f->cl); /* unwatches libcurl's cached connections */
	free(f->buf);
	free(f);
}

static bool sha256_hex_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	}
	return n == 64;
}

static bool url_scheme_ok(const char *url, bool *https)
{
	if (!strncasecmp(url, "http://", 7)) {
		*https = false;
		return url[7] != '\0';
	}
	if (!strncasecmp(url, "https://", 8)) {
		*https = true;
		return url[8] != '\0';
	}
	return false;
}

static int job_open_part(struct job *j)
{
	struct stat st;
	uint64_t cap = j->expect_size ? j->expect_size : j->max_bytes;

	j->fd = open(j->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (j->fd < 0)
		return -errno;
	if (fstat(j->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	j->have = (uint64_t)st.st_size;
	if (j->have && (!j->expect_sha256[0] || j->have > cap)) {
		log_info("fetch: discarding %s (%" PRIu64 " bytes, %s)", j->part, j->have,
			 j->have > cap ? "too large" : "no sha256 to check a resume");
		if (ftruncate(j->fd, 0) < 0)
			return -errno;
		j->have = 0;
	}
	return 0;
}

int fetch_start(struct fetch *f, const struct fetch_req *r, fetch_done_cb cb, void *arg, int *id)
{
	struct job *j = NULL;
	bool https = false;
	int rc;

	if (!f || !r || !cb || !r->url || !r->dest || !r->dest[0] || !r->max_bytes)
		return -EINVAL;
	if (!url_scheme_ok(r->url, &https) || strlen(r->url) > FETCH_URL_MAX)
		return -EINVAL;
	if (strlen(r->dest) + sizeof(".part") > PATH_MAX)
		return -EINVAL;
	if (r->ca_file && strlen(r->ca_file) >= PATH_MAX)
		return -EINVAL;
	if (r->proxy && strlen(r->proxy) > FETCH_URL_MAX)
		return -EINVAL;
	if (r->expect_size > r->max_bytes)
		return -EINVAL;
	if (r->expect_sha256 && !sha256_hex_valid(r->expect_sha256))
		return -EINVAL;
	for (size_t i = 0; i < FETCH_MAX_JOBS; i++) {
		if (f->jobs[i].state == JOB_FREE) {
			if (!j)
				j = &f->jobs[i];
		} else if (!strcmp(f->jobs[i].dest, r->dest)) {
			return -EBUSY;
		}
	}
	if (!j)
		return -EBUSY;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->f = f;
	j->cb = cb;
	j->arg = arg;
	j->https = https;
	str_copy(j->url, sizeof(j->url), r->url);
	url_for_log(r->url, j->logurl, sizeof(j->logurl));
	str_copy(j->dest, sizeof(j->dest), r->dest);
	snprintf(j->part, sizeof(j->part), "%s.part", r->dest);
	if (r->ca_file)
		str_copy(j->ca_file, sizeof(j->ca_file), r->ca_file);
	if (r->proxy)
		str_copy(j->proxy, sizeof(j->proxy), r->proxy);
	if (r->expect_sha256)
		str_copy(j->expect_sha256, sizeof(j->expect_sha256), r->expect_sha256);
	j->max_bytes = r->max_bytes;
	j->expect_size = r->expect_size;
	j->timeout_s = r->timeout_s ? r->timeout_s : FETCH_DEFAULT_TIMEOUT_S;
	j->low_speed_s = r->low_speed_s ? r->low_speed_s : FETCH_DEFAULT_LOW_SPEED_S;

	j->md = EVP_MD_CTX_new();
	if (!j->md || EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto err_release;
	}
	rc = job_open_part(j);
	if (rc) {
		log_warn("fetch: %s: %s", j->part, strerror(-rc));
		goto err_release;
	}
	j->id = f->next_id++;
	if (f->next_id <= 0)
		f->next_id = 1;
	if (j->have) {
		j->state = JOB_HASHING;
		kick(f);
	} else {
		rc = job_transfer(j);
		if (rc)
			goto err_release;
	}
	if (id)
		*id = j->id;
	return 0;

err_release:
	job_release(j);
	return rc;
}

void fetch_cancel(struct fetch *f, int id)
{
	struct job *j;

	if (!f || id <= 0)
		return;
	j = job_by_id(f, id);
	if (!j)
		return;
	log_info("fetch %s: cancelled after %" PRIu64 " bytes", j->logurl, j->bytes);
	job_release(j);
}
