/* pools/<p>/timeline.svg: a standalone SVG picture of a pool's life (its
 * nodes and their slots as rows, jobs as bars over wall-clock time coloured
 * by outcome, each node's provisioning, life and teardown, the cost so far),
 * and the node history it is drawn from.
 *
 * Owns struct sky_timeline (p->timeline): one span per machine a node had,
 * by node name, recorded by timeline_node() (lock held) where the worker
 * launches, sets up and terminates machines. The pool owns it, so it
 * survives pool_nodes_free() and a stopped pool still shows its nodes;
 * pool_free() frees it (timeline_free()). Each call is also appended to
 * STATE/pools/<p>/spans ("<time> <mark> <node>"), and timeline_load()
 * replays that file when the state directory is loaded, so a remounted
 * pool keeps its node history (a long file is rewritten then from the
 * spans kept); its earlier jobs are drawn where their records say they
 * ran (struct sky_job's past).
 *
 * The renderer reads the pool under g.lock and keeps nothing past it. Its
 * output is bounded: at most TL_MAX_ROWS rows and the latest TL_MAX_BARS
 * job bars; the picture says how many were left out. */
#define LOG_MODULE "timeline"
#include "scheduler/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define TL_MAX_SPANS 256         /* node spans kept per pool (the oldest go) */
/* A spans file longer than this is rewritten from the spans kept when it
 * is loaded: about 5 lines per machine a pool ever had add up. */
#define TL_COMPACT_LINES (2 * (TL_DOWN + 1) * TL_MAX_SPANS)
#define TL_MAX_ROWS 160
#define TL_MAX_BARS 300
#define W 1100                   /* picture width */
#define X0 170.0                 /* the chart's left edge (labels before it) */
#define CW (W - X0 - 20)         /* the chart's width */
#define ROW_H 16
#define TOP 112                  /* the first row */

struct tl_span {
	char node[32];
	double at[TL_DOWN + 1];          /* when each mark was first seen; 0: not yet */
};

struct sky_timeline {
	struct tl_span spans[TL_MAX_SPANS];
	int n, dropped;
};

enum { OUT_SUCCEEDED, OUT_FAILED, OUT_CANCELLED, OUT_LOST, OUT_RUNNING, N_OUT };
static const char *const out_names[] = { "succeeded", "failed", "cancelled", "lost", "running" };
static const char *const out_fill[] = { "#2ca02c", "#d62728", "#9a9a9a", "#ff7f0e", "#1f77b4" };
enum { SPAN_PROV, SPAN_UP, SPAN_TEARDOWN, N_SPAN };
static const char *const span_names[] = { "provisioning", "up", "teardown" };
static const char *const span_fill[] = { "#f2cb4b", "#d4e6f6", "#9467bd" };

void timeline_free(struct sky_pool *p)
{
	free(p->timeline);
	p->timeline = NULL;
}

static double span_last(const struct tl_span *s)
{
	double t = 0;
	int i;

	for (i = 0; i <= TL_DOWN; i++)
		t = s->at[i] > t ? s->at[i] : t;
	return t;
}

/* The names of enum tl_mark in the spans file. */
static const char *const mark_names[] = { "launch", "up", "ready", "failed", "term", "down" };

/* Applies one mark at t (not 0) to the node's latest span. Replaying the
 * same calls in the same order gives the same spans. */
static void note(struct sky_pool *p, const char *node, enum tl_mark mark, double t)
{
	struct sky_timeline *tl = p->timeline;
	struct tl_span *s = NULL;
	int i;

	if (!tl && !(tl = p->timeline = calloc(1, sizeof(*tl))))
		return;
	for (i = tl->n - 1; i >= 0 && !s; i--)
		s = strcmp(tl->spans[i].node, node) ? NULL : &tl->spans[i];
	/* launched again (or up, not seen launched): a new span */
	if (mark <= TL_READY && s && !s->at[TL_DOWN] && (mark == TL_LAUNCH || s->at[TL_FAILED]))
		s->at[TL_DOWN] = span_last(s);
	if (mark <= TL_READY && (!s || s->at[TL_DOWN])) {
		if (tl->n == TL_MAX_SPANS) {
			memmove(tl->spans, tl->spans + 1, sizeof(*s) * (TL_MAX_SPANS - 1));
			tl->n--;
			tl->dropped++;
		}
		s = memset(&tl->spans[tl->n++], 0, sizeof(*s));
		sky_strlcpy(s->node, node, sizeof(s->node));
		s->at[TL_LAUNCH] = t;
	}
	if (!s || s->at[TL_DOWN])
		return;   /* nothing of it was seen launched */
	if (mark == TL_DOWN && !s->at[TL_TERM])
		s->at[TL_TERM] = t;
	if (mark == TL_READY && !s->at[TL_UP])
		s->at[TL_UP] = t;
	if (!s->at[mark])
		s->at[mark] = t;
}

void timeline_node(struct sky_pool *p, const char *node, enum tl_mark mark, double t)
{
	char path[PATH_MAX], line[96];

	t = t ? t : sky_now();
	note(p, node, mark, t);
	/* a lost line costs a picture's detail, not a job: no error path */
	snprintf(line, sizeof(line), "%.3f %s %s", t, mark_names[mark], node);
	if (!store_pool_path(p, "spans", path, sizeof(path)))
		sky_append_line(path, line);
}

/* Rewrites the spans file with only the spans kept, each mark in the order
 * note() takes them (failed after up and ready: a mark after failed would
 * start a new span). Lock not needed: the state directory is loading. */
static void compact(struct sky_pool *p, const char *path)
{
	const struct sky_timeline *tl = p->timeline;
	struct sky_buf b = { 0 };
	int i, m;

	for (i = 0; tl && i < tl->n; i++)
		for (m = 0; m <= TL_DOWN; m++)
			if (tl->spans[i].at[m])
				sky_buf_printf(&b, "%.3f %s %s\n", tl->spans[i].at[m], mark_names[m],
					       tl->spans[i].node);
	/* a failed rewrite keeps the long file: it still loads */
	if (b.data && !sky_write_file_atomic(path, b.data, b.len, 0))
		log_info("pool %s: spans file rewritten with the %d spans kept", p->name,
			 tl ? tl->n : 0);
	sky_buf_free(&b);
}

void timeline_load(struct sky_pool *p)
{
	char path[PATH_MAX], line[128], mark[16], node[64];
	struct sky_timeline *tl;
	long lines = 0;
	FILE *f;
	double t;
	int i;

	if (store_pool_path(p, "spans", path, sizeof(path)) || !(f = fopen(path, "re")))
		return;
	/* streamed, not read whole: the file grows with every machine the pool
	 * ever had, the spans kept in memory do not (TL_MAX_SPANS) */
	while (fgets(line, sizeof(line), f)) {
		lines++;
		if (sscanf(line, "%lf %15s %63s", &t, mark, node) != 3 || !(t > 0) ||
		    strlen(node) >= sizeof(tl->spans[0].node))
			continue;   /* a line a crash cut short */
		for (i = 0; i <= TL_DOWN; i++)
			if (!strcmp(mark, mark_names[i]))
				note(p, node, (enum tl_mark)i, t);
	}
	fclose(f);
	/* a pool the recovery does not take up has no machine: a span still
	 * open (a crash before its teardown was written) ended when it was
	 * last seen */
	for (i = 0, tl = p->timeline; tl && !p->replay && i < tl->n; i++)
		if (!tl->spans[i].at[TL_DOWN])
			tl->spans[i].at[TL_DOWN] = span_last(&tl->spans[i]);
	if (lines > TL_COMPACT_LINES)
		compact(p, path);
}

/* ---- rendering -------------------------------------------------------------- */

struct tl_row {
	char name[32];
	int slots;               /* slot rows it needs */
	int y;                   /* its node row, -1 when left out */
	int drawn;               /* slot rows drawn */
};

struct tl_bar {
	const struct sky_job *j;
	const struct sky_task *t;   /* NULL: the job's own record (after a remount) */
	double start, end;
	int y, out;
};

struct tl_ctx {
	const struct sky_pool *p;
	struct sky_buf *out;
	struct sky_map index;    /* node name -> row + 1 */
	struct tl_row *rows;
	size_t n_rows, cap_rows;
	struct tl_bar *bars;
	size_t n_bars, cap_bars, hidden;
	double now, t0, t1;
	int live, queued, earlier, rows_left_out;
};

/* XML text of s, at most max code points (then "..."). */
static void put_xml(struct sky_buf *b, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;

	for (; *u; u++) {
		const char *e = *u == '&' ? "&amp;" : *u == '<' ? "&lt;" : *u == '>' ? "&gt;" :
				*u == '"' ? "&quot;" : *u == '\'' ? "&apos;" : NULL;

		if ((*u & 0xc0) != 0x80 && n++ == max) {
			sky_buf_printf(b, "...");
			return;
		}
		/* what XML cannot hold (controls, U+FFFE, U+FFFF) becomes U+FFFD */
		if (*u < 0x20 && *u != '\n' && *u != '\t')
			e = "\xef\xbf\xbd";
		else if (u[0] == 0xef && u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf))
			e = "\xef\xbf\xbd", u += 2;
		if (e)
			sky_buf_printf(b, "%s", e);
		else
			sky_buf_append(b, u, 1);
	}
}

static double xpos(const struct tl_ctx *c, double t)
{
	return X0 + (t - c->t0) / (c->t1 - c->t0) * CW;
}

static void seen(struct tl_ctx *c, double t)
{
	c->t0 = t > 0 && t < c->t0 ? t : c->t0;
	c->t1 = t > c->t1 ? t : c->t1;
}

/* arr with room for element n (*cap allocated), or NULL (arr is kept). */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? 2 * *cap : 32;
	return realloc(arr, *cap * size);
}

static int add_row(struct tl_ctx *c, const char *name, int slots)
{
	intptr_t i = (intptr_t)sky_map_get(&c->index, name);
	struct tl_row *r;

	if (!i) {
		if (!(r = grow(c->rows, c->n_rows, &c->cap_rows, sizeof(*r))))
			return -ENOMEM;
		c->rows = r;
		r = memset(&c->rows[c->n_rows], 0, sizeof(*r));
		sky_strlcpy(r->name, name, sizeof(r->name));
		if (sky_map_put(&c->index, r->name, (void *)(intptr_t)(c->n_rows + 1)))
			return -ENOMEM;
		i = (intptr_t)++c->n_rows;
	}
	r = &c->rows[i - 1];
	r->slots = slots > r->slots ? slots : r->slots;
	return 0;
}

/* node-2 before node-10 */
static int by_name(const void *a, const void *b)
{
	const char *x = ((const struct tl_row *)a)->name, *y = ((const struct tl_row *)b)->name;
	size_t lx = strlen(x), ly = strlen(y);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

static int by_start_desc(const void *a, const void *b)
{
	double x = ((const struct tl_bar *)a)->start, y = ((const struct tl_bar *)b)->start;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int add_bar(struct tl_ctx *c, const struct sky_job *j, const struct sky_task *t)
{
	struct tl_bar *b;

	if (!(b = grow(c->bars, c->n_bars, &c->cap_bars, sizeof(*b))))
		return -ENOMEM;
	c->bars = b;
	b = &c->bars[c->n_bars++];
	b->j = j;
	b->t = t;
	b->start = t ? t->started : j->started;
	b->end = t ? (t->ended ? t->ended_at : c->now) : j->ended;
	if (t && !t->ended)
		b->out = OUT_RUNNING;
	else if (t ? t->lost : j->state == JOB_LOST)
		b->out = OUT_LOST;
	else if (j->cancelled || j->state == JOB_CANCELLED)
		b->out = OUT_CANCELLED;
	else if (t ? t->error || t->status : j->state != JOB_SUCCEEDED)
		b->out = OUT_FAILED;
	else
		b->out = OUT_SUCCEEDED;
	seen(c, b->start);
	seen(c, b->end);
	return t ? add_row(c, t->node_name, t->slot + 1) : 0;
}

/* A bar per task that started, and per task a job loaded back after a
 * remount ran before it (its record says where); a job loaded without
 * that (a record of an older skyfs) is drawn on the "earlier" row. */
static int job_cb(const char *key, void *value, void *arg)
{
	const struct sky_job *j = value;
	struct tl_ctx *c = arg;
	int i, rc = 0;

	(void)key;
	c->queued += j->state == JOB_QUEUED;
	for (i = 0; i < j->n_tasks && !rc; i++)
		if (j->tasks[i].started && j->tasks[i].node_name[0])
			rc = add_bar(c, j, &j->tasks[i]);
	for (i = 0; i < j->n_past && !rc; i++)
		rc = add_bar(c, j, &j->past[i]);
	if (!rc && !j->n_tasks && !j->n_past && j->started && j->ended && !job_active(j)) {
		c->earlier = 1;
		rc = add_bar(c, j, NULL);
	}
	return rc;
}

static void put_header(struct tl_ctx *c, int height)
{
	struct sky_buf *o = c->out;
	char a[40], b[40];
	int i;

	sky_buf_printf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		       "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
		       "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		       "fill=\"#ffffff\"/>\n<text class=\"title\" x=\"10\" y=\"22\" "
		       "font-size=\"16\" font-weight=\"bold\">pool ", W, height, W, height, W, height);
	put_xml(o, c->p->name, 80);
	sky_fmt_time(c->t0, a, sizeof(a));
	sky_fmt_time(c->t1, b, sizeof(b));
	sky_buf_printf(o, ": %s</text>\n<text class=\"cost\" x=\"10\" y=\"42\">"
		       "rate_usd_per_hour: %.6f   accrued_usd: %.6f</text>\n"
		       "<text class=\"range\" x=\"%d\" y=\"42\" text-anchor=\"end\">%s to %s "
		       "(%.1f s)</text>\n", pool_state_name(c->p->state), pool_rate(c->p),
		       pool_accrued(c->p, c->now), W - 20, a, b, c->t1 - c->t0);
	for (i = 0; i < N_OUT + N_SPAN; i++) {
		int k = i < N_OUT ? i : i - N_OUT;
		const char *name = i < N_OUT ? out_names[k] : span_names[k];

		sky_buf_printf(o, "<g class=\"legend\"><rect class=\"%s %s\" x=\"%d\" y=\"54\" "
			       "width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"64\">"
			       "%s%s</text></g>\n", i < N_OUT ? "bar" : "span", name,
			       10 + i * 125, i < N_OUT ? out_fill[k] : span_fill[k], 26 + i * 125,
			       i < N_OUT ? "job " : "node ", name);
	}
}

/* Ticks at a round step (clock times, UTC) and their grid lines. */
static void put_axis(struct tl_ctx *c, int bottom)
{
	static const double steps[] = { 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
					900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
					172800, 604800, 2592000 };
	double span = c->t1 - c->t0, step = steps[SKY_ARRAY_SIZE(steps) - 1], t;
	long long k;
	size_t i;

	for (i = SKY_ARRAY_SIZE(steps); i-- > 0;)
		step = span / steps[i] <= 8 ? steps[i] : step;
	sky_buf_printf(c->out, "<g class=\"axis\"><text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
		       "fill=\"#555555\">UTC</text>\n", X0 - 8, TOP - 12);
	for (k = (long long)ceil(c->t0 / step); (t = (double)k * step) <= c->t1; k++) {
		long long tenths = llround(t * 10);
		time_t s = (time_t)(tenths / 10);
		struct tm tm;
		char label[32];
		size_t len;

		gmtime_r(&s, &tm);
		len = strftime(label, sizeof(label), step >= 86400 ? "%m-%d" : span >= 86400 ?
			       "%m-%d %H:%M" : "%H:%M:%S", &tm);
		if (step < 1)
			snprintf(label + len, sizeof(label) - len, ".%lld", tenths % 10);
		sky_buf_printf(c->out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			       "stroke=\"#e0e0e0\"/><text class=\"tick\" x=\"%.1f\" y=\"%d\" "
			       "text-anchor=\"middle\" fill=\"#555555\">%s</text>\n", xpos(c, t),
			       TOP - 8, xpos(c, t), bottom, xpos(c, t), TOP - 12, label);
	}
	sky_buf_printf(c->out, "</g>\n");
}

static void put_rect(struct tl_ctx *c, const char *kind, const char *name, double a,
		     double b, int y, int h, const char *fill)
{
	double x = xpos(c, a), w = xpos(c, b) - x;

	sky_buf_printf(c->out, "<rect class=\"%s %s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		       "height=\"%d\" fill=\"%s\">", kind, name, x, y, w < 2 ? 2 : w, h, fill);
}

static void put_spans(struct tl_ctx *c, const struct tl_row *r)
{
	const struct sky_timeline *tl = c->p->timeline;
	int i, k;

	for (i = 0; tl && i < tl->n; i++) {
		const struct tl_span *s = &tl->spans[i];
		const double *at = s->at;
		double end = at[TL_DOWN] ? at[TL_DOWN] : c->live ? c->now : span_last(s);
		double from[N_SPAN] = { at[TL_LAUNCH], at[TL_READY], at[TL_TERM] }, to[N_SPAN];

		if (strcmp(s->node, r->name))
			continue;
		to[SPAN_PROV] = at[TL_READY] ? at[TL_READY] : at[TL_FAILED] ? at[TL_FAILED] :
				at[TL_TERM] ? at[TL_TERM] : end;
		to[SPAN_UP] = at[TL_TERM] ? at[TL_TERM] : end;
		to[SPAN_TEARDOWN] = end;
		for (k = 0; k < N_SPAN; k++) {
			int failed = k == SPAN_PROV && at[TL_FAILED];

			if (!from[k] || to[k] < from[k])
				continue;
			put_rect(c, "span", failed ? "provisioning failed" : span_names[k], from[k],
				 to[k], r->y + 3, ROW_H - 6, span_fill[k]);
			sky_buf_printf(c->out, "<title>%s: %s%s, %.1f s%s</title></rect>\n",
				       r->name, span_names[k], failed ? " (failed)" : "",
				       to[k] - from[k], at[TL_DOWN] || k == SPAN_PROV ? "" : " so far");
		}
	}
}

static void put_bar(struct tl_ctx *c, const struct tl_bar *b)
{
	double w = xpos(c, b->end) - xpos(c, b->start);

	put_rect(c, "bar", out_names[b->out], b->start, b->end, b->y + 2, ROW_H - 4,
		 out_fill[b->out]);
	sky_buf_printf(c->out, "<title>");
	put_xml(c->out, b->j->name, SIZE_MAX);
	if (b->t)
		sky_buf_printf(c->out, "\n%s slot %d%s", b->t->node_name, b->t->slot,
			       b->j->broadcast ? " (broadcast)" : "");
	if (b->out == OUT_RUNNING)
		sky_buf_printf(c->out, "\nrunning\nduration %.3f s so far", b->end - b->start);
	else
		sky_buf_printf(c->out, "\n%s\nexit %d\nduration %.3f s", out_names[b->out],
			       b->t ? job_task_exit_code(b->t) : b->j->exit_code, b->end - b->start);
	sky_buf_printf(c->out, "</title></rect>\n");
	if (w < 40)
		return;
	sky_buf_printf(c->out, "<text class=\"label\" x=\"%.1f\" y=\"%d\" font-size=\"9\" "
		       "fill=\"#ffffff\" pointer-events=\"none\">", xpos(c, b->start) + 3,
		       b->y + ROW_H - 5);
	put_xml(c->out, b->j->name, (size_t)((w - 6) / 5.5));
	sky_buf_printf(c->out, "</text>\n");
}

static void put_label(struct tl_ctx *c, int y, const char *text, int node)
{
	sky_buf_printf(c->out, "<text class=\"row\" x=\"%d\" y=\"%d\"%s>", node ? 10 : 24,
		       y + ROW_H - 4, node ? " font-weight=\"bold\"" : "");
	put_xml(c->out, text, 30);
	sky_buf_printf(c->out, "</text>\n");
}

static __attribute__((format(printf, 3, 4)))
void put_note(struct tl_ctx *c, int *y, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sky_buf_printf(c->out, "<text class=\"note\" x=\"10\" y=\"%d\" fill=\"#555555\">%s"
		       "</text>\n", *y, text);
	*y += 16;
}

/* Rows: each node's, then one per slot, while there is room; y of the
 * bars, those on rows left out dropped. Returns where the rows end. */
static int layout(struct tl_ctx *c)
{
	size_t i, k, used = 0;
	int y = TOP;

	if (c->n_rows)
		qsort(c->rows, c->n_rows, sizeof(*c->rows), by_name);
	for (i = 0; i < c->n_rows; i++) {
		struct tl_row *r = &c->rows[i];
		size_t room = used < TL_MAX_ROWS ? TL_MAX_ROWS - used - 1 : 0;

		r->y = used < TL_MAX_ROWS ? y : -1;
		r->drawn = r->y < 0 ? 0 : (size_t)r->slots < room ? r->slots : (int)room;
		c->rows_left_out += r->slots - r->drawn + (r->y < 0);
		used += r->y < 0 ? 0 : (size_t)r->drawn + 1;
		y += r->y < 0 ? 0 : (r->drawn + 1) * ROW_H;
	}
	for (i = k = 0; i < c->n_bars; i++) {
		struct tl_bar *b = &c->bars[i];
		const struct tl_row *r = NULL;
		struct tl_row key;

		if (b->t) {
			sky_strlcpy(key.name, b->t->node_name, sizeof(key.name));
			r = bsearch(&key, c->rows, c->n_rows, sizeof(key), by_name);
		}

		b->y = !b->t ? y : r && r->y >= 0 && b->t->slot < r->drawn ?
		       r->y + (b->t->slot + 1) * ROW_H : -1;
		if (b->y >= 0)
			c->bars[k++] = *b;
	}
	c->hidden = c->n_bars - k;
	c->n_bars = k;
	return y + (c->earlier ? ROW_H : 0);
}

static int render(struct tl_ctx *c)
{
	const struct sky_pool *p = c->p;
	const struct sky_timeline *tl = p->timeline;
	int i, k, y, rc, slots = p->spec_text ? p->spec.slots : 1;
	size_t n;

	for (i = 0; i < p->n_nodes; i++)
		if ((rc = add_row(c, p->nodes[i]->name, slots)))
			return rc;
	for (i = 0; tl && i < tl->n; i++) {
		if ((rc = add_row(c, tl->spans[i].node, slots)))
			return rc;
		seen(c, tl->spans[i].at[TL_LAUNCH]);
		seen(c, span_last(&tl->spans[i]));
	}
	if ((rc = sky_map_each(&p->jobs, job_cb, c)))
		return rc;
	if (c->t0 > c->t1)
		c->t0 = c->t1 = p->created;
	c->t1 = c->t1 - c->t0 < 1 ? c->t0 + 1 : c->t1;
	y = layout(c);
	if (c->n_bars)
		qsort(c->bars, c->n_bars, sizeof(*c->bars), by_start_desc);
	n = c->n_bars < TL_MAX_BARS ? c->n_bars : TL_MAX_BARS;
	put_header(c, y + 24 + 16 * 4);
	put_axis(c, y);
	for (i = 0; i < (int)c->n_rows; i++) {
		const struct tl_row *r = &c->rows[i];
		char label[48];

		if (r->y < 0)
			continue;
		sky_buf_printf(c->out, "<rect class=\"band\" x=\"0\" y=\"%d\" width=\"%d\" "
			       "height=\"%d\" fill=\"#f4f4f4\"/>\n", r->y, W, ROW_H);
		put_label(c, r->y, r->name, 1);
		put_spans(c, r);
		for (k = 0; k < r->drawn; k++) {
			snprintf(label, sizeof(label), "slot %d", k);
			put_label(c, r->y + (k + 1) * ROW_H, label, 0);
		}
	}
	if (c->earlier)
		put_label(c, y - ROW_H, "earlier (node not kept)", 1);
	for (i = 0; i < (int)n; i++)
		put_bar(c, &c->bars[i]);
	if (c->live)
		sky_buf_printf(c->out, "<line class=\"now\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			       "y2=\"%d\" stroke=\"#d62728\" stroke-dasharray=\"3,3\"/>\n",
			       xpos(c, c->now), TOP - 8, xpos(c, c->now), y);
	y += 24;
	if (!c->n_rows && !c->n_bars)
		put_note(c, &y, "no nodes and no jobs yet");
	if (c->queued)
		put_note(c, &y, "%d job(s) queued", c->queued);
	if (c->n_bars > n)
		put_note(c, &y, "%zu job bar(s) omitted: only the latest %zu are drawn",
			 c->n_bars - n, n);
	if (c->rows_left_out || c->hidden || (tl && tl->dropped))
		put_note(c, &y, "%d row(s) omitted, with %zu job bar(s); %d old node span(s) "
			 "not kept", c->rows_left_out, c->hidden, tl ? tl->dropped : 0);
	sky_buf_printf(c->out, "</svg>\n");
	return c->out->data ? 0 : -ENOMEM;
}

int sky_pool_render_timeline(const char *name, struct sky_buf *out)
{
	struct tl_ctx c = { .out = out };
	int rc;

	sky_map_init(&c.index);
	pthread_mutex_lock(&g.lock);
	c.p = pool_get(name);
	if (!c.p) {
		rc = -ENOENT;
		goto out;
	}
	c.now = sky_now();
	c.t0 = c.now + 1e9;
	/* live: what is open goes on until now */
	c.live = pool_live(c.p) || c.p->state == POOL_PROVISIONING ||
		 c.p->state == POOL_PENDING || c.p->state == POOL_TERMINATING;
	if (c.live) {
		seen(&c, c.p->created);
		seen(&c, c.now);
	}
	rc = render(&c);
out:
	pthread_mutex_unlock(&g.lock);
	sky_map_free(&c.index);
	free(c.rows);
	free(c.bars);
	return rc;
}
