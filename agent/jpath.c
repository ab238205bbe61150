/*
 * jpath: JSON paths and duplicate-key sets for the payload validators. See
 * jpath.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpath.h"
#include "util.h"

/* Append @s to @buf (size @sz) at *@o, bounded. */
static void cat(char *buf, size_t sz, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + 1 >= sz)
		return;
	if (n > sz - 1 - *o)
		n = sz - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

static void path_fmt(const struct jpath *p, char *buf, size_t sz, size_t *o)
{
	char seg[72];

	if (!p)
		return;
	path_fmt(p->up, buf, sz, o);
	if (p->key || p->name) {
		if (p->key) {
			jscan_str_decode(p->key, seg, sizeof(seg));
			for (char *c = seg; *c; c++) {
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			}
		} else {
			str_copy(seg, sizeof(seg), p->name);
		}
		if (p->up)
			cat(buf, sz, o, ".");
		cat(buf, sz, o, seg);
	} else {
		snprintf(seg, sizeof(seg), "[%zu]", p->idx);
		cat(buf, sz, o, seg);
	}
}

void jpath_format(const struct jpath *p, char *buf, size_t sz)
{
	size_t o = 0;

	if (!sz)
		return;
	buf[0] = '\0';
	path_fmt(p, buf, sz, &o);
}

void jkeys_init(struct jkeys *ks)
{
	ks->n = 0;
	ks->tab = NULL;
	ks->mask = 0;
}

static struct jscan_tok key_tok(const struct jkey *k)
{
	struct jscan_tok t = {
		.type = JSCAN_KEY, .flags = k->flags, .p = k->p, .len = k->len, .dlen = k->dlen};

	return t;
}

void jkeys_free(struct jkeys *ks)
{
	free(ks->tab);
}

/* Insert @k into the hashed table (known absent, room left). */
static void jkeys_put(struct jkeys *ks, const struct jkey *k)
{
	size_t i = k->hash & ks->mask;

	while (ks->tab[i].p)
		i = (i + 1) & ks->mask;
	ks->tab[i] = *k;
}

static int jkeys_grow(struct jkeys *ks)
{
	size_t cap = ks->tab ? (ks->mask + 1) * 2 : JKEYS_INLINE * 4;
	struct jkey *old = ks->tab;
	size_t old_cap = old ? ks->mask + 1 : 0;

	ks->tab = calloc(cap, sizeof(*ks->tab));
	if (!ks->tab) {
		ks->tab = old;
		return -ENOMEM;
	}
	ks->mask = cap - 1;
	if (!old) {
		for (size_t i = 0; i < JKEYS_INLINE; i++) {
			ks->inl[i].hash = jscan_str_hash(&(struct jscan_tok){
				.p = ks->inl[i].p,
				.len = ks->inl[i].len,
				.dlen = ks->inl[i].dlen,
				.flags = ks->inl[i].flags,
			});
			jkeys_put(ks, &ks->inl[i]);
		}
	}
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].p)
			jkeys_put(ks, &old[i]);
	}
	free(old);
	return 0;
}

/* Add key @t. Returns 1 if the object already had it, 0 if not, -ENOMEM. */
int jkeys_add(struct jkeys *ks, const struct jscan_tok *t)
{
	struct jkey k = {t->p, (uint32_t)t->len, (uint32_t)t->dlen, t->flags, 0};
	struct jscan_tok o;

	if (ks->n < JKEYS_INLINE) {
		for (size_t i = 0; i < ks->n; i++) {
			if (ks->inl[i].dlen != k.dlen)
				continue;
			o = key_tok(&ks->inl[i]);
			if (jscan_tok_eq(t, &o))
				return 1;
		}
		ks->inl[ks->n++] = k;
		return 0;
	}
	if ((!ks->tab || (ks->n + 1) * 2 > ks->mask + 1) && jkeys_grow(ks) < 0)
		return -ENOMEM;
	k.hash = jscan_str_hash(t);
	for (size_t i = k.hash & ks->mask; ks->tab[i].p; i = (i + 1) & ks->mask) {
		if (ks->tab[i].hash != k.hash || ks->tab[i].dlen != k.dlen)
			continue;
		o = key_tok(&ks->tab[i]);
		if (jscan_tok_eq(t, &o))
			return 1;
	}
	jkeys_put(ks, &k);
	ks->n++;
	return 0;
}

const char *jpath_quote(char buf[JPATH_QUOTE_MAX + 4], const struct jscan_tok *t)
{
	size_t n = jscan_str_decode(t, buf, JPATH_QUOTE_MAX + 1);

	if (n > JPATH_QUOTE_MAX)
		memcpy(buf + strlen(buf), "...", 4);
	return buf;
}

const char *jpath_quote_num(char buf[JPATH_QUOTE_MAX + 4], const struct jscan_tok *t)
{
	size_t n = t->len > JPATH_QUOTE_MAX ? JPATH_QUOTE_MAX : t->len;

	memcpy(buf, t->p, n);
	buf[n] = '\0';
	if (t->len > JPATH_QUOTE_MAX)
		memcpy(buf + n, "...", 4);
	return buf;
}
