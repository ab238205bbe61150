/*
 * The reference guide screen: fetches /content.json (the content the agent
 * POSTed to /content, see README.md) and renders it for shoppers.
 *
 * Updates: a long-poll (GET /content.json?after=<shown version> answers as
 * soon as another version is stored, or 204 after ~20 s). Page parameters:
 *   ?poll=MS       plain polling every MS ms instead of the long-poll
 *   ?locale=de-DE  number format (decimal and group separators, currency
 *                  symbol position); default "en"
 *   ?max=N         cards shown (default 6, at most 12)
 * Everything is rendered with textContent (never innerHTML); an image that
 * fails to load is replaced by a placeholder tile.
 */
(function () {
	'use strict';

	var params = new URLSearchParams(location.search);
	var LOCALE = params.get('locale') || 'en';
	var POLL_MS = parseInt(params.get('poll') || '0', 10) || 0;
	var MAX_CARDS = Math.min(12, Math.max(1, parseInt(params.get('max') || '6', 10) || 6));
	var RETRY_MS = 2000;
	var STALE_MS = 45000; /* > the long-poll (20 s) + a retry */
	var KIND_LABEL = { recs: 'Picked for you', zone: "Today's offers", rule: 'Just now' };

	var shown = 0;          /* version on the screen */
	var lastOk = Date.now(); /* last successful answer from the server */

	function $(id) {
		return document.getElementById(id);
	}

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = text;
		return e;
	}

	/* Digits after the decimal point for a currency (EUR 2, JPY 0, KWD 3). */
	function exponent(cur) {
		try {
			return new Intl.NumberFormat('en', { style: 'currency', currency: cur })
				.resolvedOptions().maximumFractionDigits;
		} catch (e) {
			return 2;
		}
	}

	/* Symbol, and whether it comes before the amount, in LOCALE. */
	function symbol(cur) {
		try {
			var parts = new Intl.NumberFormat(LOCALE, { style: 'currency', currency: cur,
				currencyDisplay: 'narrowSymbol' }).formatToParts(1);
			var i, before = true, sym = cur;
			for (i = 0; i < parts.length; i++) {
				if (parts[i].type === 'currency') {
					sym = parts[i].value;
					break;
				}
				if (parts[i].type === 'integer')
					before = false;
			}
			return { sym: sym, before: before };
		} catch (e) {
			return { sym: cur, before: false };
		}
	}

	function separators() {
		var dec = '.', grp = ',';
		try {
			new Intl.NumberFormat(LOCALE).formatToParts(12345.6).forEach(function (p) {
				if (p.type === 'decimal')
					dec = p.value;
				if (p.type === 'group')
					grp = p.value;
			});
		} catch (e) { /* keep the defaults */ }
		return { dec: dec, grp: grp };
	}

	/* Minor units -> "12.90" with integer arithmetic only (no float rounding). */
	function amount(minor, cur) {
		var d = exponent(cur), s = separators();
		var str = String(Math.abs(minor));
		while (str.length <= d)
			str = '0' + str;
		var major = str.slice(0, str.length - d), frac = str.slice(str.length - d);
		major = major.replace(/\B(?=(\d{3})+(?!\d))/g, s.grp);
		return (minor < 0 ? '-' : '') + major + (d ? s.dec + frac : '');
	}

	function initials(name) {
		var words = String(name || '?').split(/\s+/).filter(function (w) {
			return /^[\p{L}\p{N}]/u.test(w);
		});
		return words.slice(0, 2).map(function (w) {
			return w.charAt(0).toUpperCase();
		}).join('') || '?';
	}

	/* A stable hue per SKU (FNV-1a) so neighbouring placeholders differ. */
	function hue(sku) {
		var h = 0x811c9dc5, i;
		for (i = 0; i < sku.length; i++)
			h = Math.imul(h ^ sku.charCodeAt(i), 16777619) >>> 0;
		return (h % 12) * 30;
	}

	function placeholder(item) {
		var ph = el('div', 'ph');
		ph.style.setProperty('--h', hue(item.sku || ''));
		ph.appendChild(el('span', 'ph-letters', initials(item.name)));
		return ph;
	}

	function card(item, cur) {
		var c = el('article', 'card');
		c.dataset.sku = item.sku;
		var media = el('div', 'media');
		if (typeof item.image === 'string' && /^https?:\/\//.test(item.image)) {
			var img = el('img');
			img.alt = item.name || '';
			img.decoding = 'async';
			img.onload = function () {
				media.classList.add('loaded');
			};
			img.onerror = function () {
				media.classList.add('broken');
				media.replaceChildren(placeholder(item));
			};
			img.src = item.image;
			media.appendChild(img);
		} else {
			media.classList.add('noimage');
			media.appendChild(placeholder(item));
		}
		c.appendChild(media);
		var body = el('div', 'body');
		body.appendChild(el('h2', 'name', item.name));
		/* always there (maybe empty) so the prices of a row line up */
		body.appendChild(el('p', 'tag', item.headline || ''));
		var p = el('div', 'price');
		var s = symbol(cur);
		var amt = el('span', 'amount', amount(item.price, cur));
		var sym = el('span', 'cur', s.sym);
		if (s.before) {
			p.appendChild(sym);
			p.appendChild(amt);
		} else {
			p.appendChild(amt);
			p.appendChild(sym);
		}
		body.appendChild(p);
		c.appendChild(body);
		return c;
	}

	function clock(ts) {
		var d = new Date(ts);
		if (isNaN(d.getTime()))
			return '';
		return d.toLocaleTimeString(LOCALE, { hour: '2-digit', minute: '2-digit' });
	}

	function render(c) {
		if (!c || typeof c.version !== 'number' || c.version < shown)
			return;
		var items = Array.isArray(c.items) ? c.items.slice(0, MAX_CARDS) : [];
		var screen = $('screen');
		var list = $('items');
		list.replaceChildren();
		items.forEach(function (it) {
			list.appendChild(card(it, c.currency || 'EUR'));
		});
		list.className = 'items n-' + (items.length > 3 ? 'many' : items.length);
		$('headline').textContent = c.headline || '';
		$('kind').textContent = (KIND_LABEL[c.kind] || '') +
			(c.zone && c.kind === 'zone' ? ' \u00b7 ' + c.zone : '');
		$('where').textContent = [c.store, c.screen].filter(Boolean).join(' \u00b7 ');
		$('updated').textContent = 'v' + c.version + ' \u00b7 ' + clock(c.ts);
		screen.dataset.version = String(c.version);
		screen.dataset.kind = c.kind || '';
		screen.classList.remove('idle');
		shown = c.version;
	}

	function setOnline(ok) {
		if (ok)
			lastOk = Date.now();
		$('status').classList.toggle('stale', Date.now() - lastOk > STALE_MS);
	}

	function fetchContent(after) {
		var url = 'content.json' + (after !== undefined ? '?after=' + after : '');
		return fetch(url, { cache: 'no-store' }).then(function (r) {
			if (r.status === 204)
				return null;
			if (!r.ok)
				throw new Error('HTTP ' + r.status);
			return r.json();
		}).then(function (c) {
			setOnline(true);
			if (c)
				render(c);
		});
	}

	function loop() {
		var p = fetchContent(POLL_MS ? undefined : shown);
		p.then(function () {
			setTimeout(loop, POLL_MS || 0);
		}, function () {
			setOnline(false);
			setTimeout(loop, Math.max(POLL_MS, RETRY_MS));
		});
	}

	/* first paint at once, then follow changes */
	fetchContent().catch(function () {
		setOnline(false);
	}).then(function () {
		setTimeout(loop, POLL_MS || 0);
	});
	setInterval(function () {
		setOnline(false);
	}, 5000);
})();
