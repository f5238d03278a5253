/* The funnel, per person: one pass over a person's events in time order.
 *
 * Inputs are the events of all persons, grouped by person (person p owns rows offsets[p]..offsets[p+1]-1)
 * and ascending by ts within a person; events with equal ts may come in any order, so nothing here
 * depends on their order: ties are broken by what the events are (their step mask, then bkey).
 *
 *   mask      bit k set: the event can fill step k (0-based), its name and --where both match;
 *   excl      bit x set: the event is exclusion x's event;
 *   other     1: the event counts as "another event" for strict funnels (not bookkeeping);
 *   bkey      the rank of the breakdown value of the event (ties between equal entries).
 *
 * None of these is an array of rows: each comes from the event's code (int16 or int32) through a small
 * table (one entry per event name, the last for code -1), the breakdown rank from the breakdown value's
 * code the same way. Only a step with --where needs a per-row mask (mask_rows). Writing 10M-row arrays
 * costs more than the whole pass on a machine where fresh memory is slow to fault in.
 *
 * Semantics are documented in docs/funnels.md; tests/analytics/funnel_reference.py is the
 * slow, obviously-correct version every rule is checked against.
 */
#include <stdint.h>

#define MAX_STEPS 20
#define NONE INT64_MIN

enum { ORDERED = 0, STRICT = 1, UNORDERED = 2 };

typedef struct {
    const void *codes;
    int32_t width; /* bytes per code: 2 or 4 */
    int64_t n_table;
} coded_t;

typedef struct {
    const int64_t *ts;
    coded_t event;
    const uint32_t *mask_table, *excl_table;
    const uint8_t *other_table;
    const uint32_t *mask_rows; /* NULL unless a step has --where */
    coded_t breakdown;         /* codes NULL: no breakdown */
    const int32_t *rank_table;
    int32_t n_steps, order, entry_first, n_excl;
    const int32_t *excl_from, *excl_to;
    int64_t window, from, to;
} funnel_t;

/* The table slot of row r: its code, or the last slot (none) for -1 or a code beyond the table. */
static inline int64_t slot(const coded_t *c, int64_t r) {
    int64_t code = c->width == 2 ? ((const int16_t *)c->codes)[r] : ((const int32_t *)c->codes)[r];
    return (code < 0 || code >= c->n_table - 1) ? c->n_table - 1 : code;
}

static inline uint32_t mask_of(const funnel_t *f, int64_t r) {
    return f->mask_rows ? f->mask_rows[r] : f->mask_table[slot(&f->event, r)];
}

typedef struct {
    int32_t level;
    int64_t entry;
    int64_t times[MAX_STEPS];
} attempt_t;

static int in_range(const funnel_t *f, int64_t t) { return t >= f->from && t < f->to; }

static int32_t key_of(const funnel_t *f, int64_t r) {
    return f->breakdown.codes ? f->rank_table[slot(&f->breakdown, r)] : 0;
}

/* Is attempt `a` (entry row ra) preferred over the best so far (entry rb)? Higher level first, then the
 * earliest entry, then the entry that fills the fewest steps, then the smallest breakdown value. */
static int better(const funnel_t *f, const attempt_t *a, const attempt_t *best) {
    if (a->level != best->level) return a->level > best->level;
    if (best->entry < 0) return 1;
    int64_t ta = f->ts[a->entry], tb = f->ts[best->entry];
    if (ta != tb) return ta < tb;
    uint32_t ma = mask_of(f, a->entry), mb = mask_of(f, best->entry);
    if (ma != mb) return ma < mb;
    return key_of(f, a->entry) < key_of(f, best->entry);
}

static int64_t tie_start(const funnel_t *f, int64_t lo, int64_t r) {
    while (r > lo && f->ts[r - 1] == f->ts[r]) r--;
    return r;
}

static int is_used(const int64_t *used, int32_t n, int64_t r) {
    for (int32_t i = 0; i < n; i++)
        if (used[i] == r) return 1;
    return 0;
}

/* The next step's event: the earliest unused event at or after `prev`'s time that can fill step k, within
 * the deadline; among events at that time, the one with the smallest mask. -1 when there is none. */
static int64_t next_step(const funnel_t *f, int64_t lo, int64_t hi, int64_t prev, int32_t k,
                         const int64_t *used, int32_t n_used, int64_t deadline) {
    uint32_t bit = 1u << k;
    int64_t found = -1;
    for (int64_t r = tie_start(f, lo, prev); r < hi; r++) {
        int64_t t = f->ts[r];
        if (t > deadline) break;
        if (found >= 0 && t != f->ts[found]) break;
        uint32_t m = mask_of(f, r);
        if (!(m & bit) || is_used(used, n_used, r)) continue;
        if (found < 0 || m < mask_of(f, found)) found = r;
    }
    return found;
}

/* Strict: does an event strictly between t_prev and t_next interrupt (not a repeat of step k-1)? */
static int interrupted(const funnel_t *f, int64_t lo, int64_t hi, int64_t prev, int64_t t_next, int32_t k) {
    int64_t t_prev = f->ts[prev];
    uint32_t repeat = 1u << (k - 1);
    for (int64_t r = tie_start(f, lo, prev); r < hi; r++) {
        int64_t t = f->ts[r];
        if (t >= t_next) break;
        if (t == t_prev) continue;
        if (f->other_table[slot(&f->event, r)] && !(mask_of(f, r) & repeat)) return 1;
    }
    return 0;
}

static int excluded(const funnel_t *f, int64_t lo, int64_t hi, const attempt_t *a, int64_t deadline) {
    for (int32_t x = 0; x < f->n_excl; x++) {
        int32_t from = f->excl_from[x], to = f->excl_to[x];
        if (a->level <= from) continue;
        int64_t after = a->times[from];
        /* before step `to`, or, never reached, within the window (inclusive): t < deadline + 1 */
        int64_t before = a->level > to ? a->times[to] : deadline + 1;
        uint32_t bit = 1u << x;
        for (int64_t r = lo; r < hi; r++) {
            int64_t t = f->ts[r];
            if (t >= before) break;
            if (t > after && (f->excl_table[slot(&f->event, r)] & bit)) return 1;
        }
    }
    return 0;
}

static void ordered_attempt(const funnel_t *f, int64_t lo, int64_t hi, int64_t entry, attempt_t *a) {
    int64_t used[MAX_STEPS];
    int64_t deadline = f->ts[entry] + f->window;
    a->entry = entry;
    a->level = 1;
    a->times[0] = f->ts[entry];
    used[0] = entry;
    int64_t prev = entry;
    for (int32_t k = 1; k < f->n_steps; k++) {
        int64_t r = next_step(f, lo, hi, prev, k, used, k, deadline);
        if (r < 0) break;
        if (f->order == STRICT && interrupted(f, lo, hi, prev, f->ts[r], k)) break;
        used[k] = r;
        a->times[k] = f->ts[r];
        a->level = k + 1;
        prev = r;
    }
    for (int32_t k = a->level; k < f->n_steps; k++) a->times[k] = NONE;
}

/* Unordered: the most steps that distinct events in [anchor, anchor + window] can fill (a bipartite
 * matching of steps to events, by augmenting paths). */
typedef struct {
    const uint32_t *masks;
    int32_t n;
    int32_t owner[64 * MAX_STEPS]; /* step matched to each event slot, -1 none */
    int32_t seen[64 * MAX_STEPS];
    int32_t stamp;
} matching_t;

static int augment(matching_t *m, int32_t step) {
    for (int32_t e = 0; e < m->n; e++) {
        if (!(m->masks[e] & (1u << step)) || m->seen[e] == m->stamp) continue;
        m->seen[e] = m->stamp;
        if (m->owner[e] < 0 || augment(m, m->owner[e])) {
            m->owner[e] = step;
            return 1;
        }
    }
    return 0;
}

static int32_t unordered_level(const funnel_t *f, int64_t lo, int64_t hi, int64_t anchor) {
    /* Events with the same mask are interchangeable and no step needs more than n_steps of them, so keep
     * at most n_steps events of each mask: the matching stays small whatever the person did. */
    static __thread uint32_t masks[64 * MAX_STEPS];
    uint32_t distinct[64];
    int32_t kept[64];
    int32_t n_distinct = 0, n = 0;
    int64_t end = f->ts[anchor] + f->window;
    for (int64_t r = tie_start(f, lo, anchor); r < hi && f->ts[r] <= end; r++) {
        uint32_t m = mask_of(f, r);
        if (!m) continue;
        int32_t d = 0;
        while (d < n_distinct && distinct[d] != m) d++;
        if (d == n_distinct) {
            if (n_distinct == 64) continue; /* more than 64 different masks: ignore the rarest (never in practice) */
            distinct[n_distinct] = m;
            kept[n_distinct++] = 0;
        }
        if (kept[d] >= f->n_steps) continue;
        kept[d]++;
        masks[n++] = m;
    }
    matching_t mt;
    mt.masks = masks;
    mt.n = n;
    mt.stamp = 0;
    for (int32_t e = 0; e < n; e++) {
        mt.owner[e] = -1;
        mt.seen[e] = -1;
    }
    int32_t level = 0;
    for (int32_t s = 0; s < f->n_steps; s++) {
        mt.stamp = s;
        level += augment(&mt, s);
    }
    return level;
}

static void person(const funnel_t *f, int64_t lo, int64_t hi, attempt_t *best) {
    best->level = 0;
    best->entry = -1;
    uint32_t entry_bits = f->order == UNORDERED ? ~0u : 1u;
    int64_t first = NONE;
    if (f->entry_first) {
        for (int64_t r = lo; r < hi; r++)
            if ((mask_of(f, r) & entry_bits) && in_range(f, f->ts[r])) {
                first = f->ts[r];
                break;
            }
        if (first == NONE) return;
    }
    attempt_t a;
    for (int64_t r = lo; r < hi; r++) {
        if (!(mask_of(f, r) & entry_bits)) continue;
        int64_t t = f->ts[r];
        if (!in_range(f, t)) continue;
        if (f->entry_first && t != first) break;
        /* attempts come in time order: once one reached every step, only a tie in time can beat it */
        if (best->level == f->n_steps && t > f->ts[best->entry]) break;
        if (f->order == UNORDERED) {
            a.entry = r;
            a.level = unordered_level(f, lo, hi, r);
            for (int32_t k = 0; k < f->n_steps; k++) a.times[k] = NONE;
        } else {
            ordered_attempt(f, lo, hi, r, &a);
            if (f->n_excl && excluded(f, lo, hi, &a, t + f->window)) continue;
        }
        if (better(f, &a, best)) *best = a;
    }
}

int sop_funnel(int64_t n_persons, const int64_t *offsets, const int64_t *ts, const void *event,
               int32_t event_width, int64_t n_events, const uint32_t *mask_table, const uint32_t *excl_table,
               const uint8_t *other_table, const uint32_t *mask_rows, const void *breakdown,
               int32_t breakdown_width, int64_t n_values, const int32_t *rank_table, int32_t n_steps,
               int32_t order, int32_t entry_first, int32_t n_excl, const int32_t *excl_from,
               const int32_t *excl_to, int64_t window, int64_t from, int64_t to, int32_t *level_out,
               int64_t *entry_out, int64_t *times_out) {
    if (n_steps < 1 || n_steps > MAX_STEPS || n_excl < 0 || n_excl > 32) return -1;
    if ((event_width != 2 && event_width != 4) || (breakdown && breakdown_width != 2 && breakdown_width != 4))
        return -2;
    funnel_t f = {ts, {event, event_width, n_events}, mask_table, excl_table, other_table, mask_rows,
                  {breakdown, breakdown_width, n_values}, rank_table, n_steps, order, entry_first, n_excl,
                  excl_from, excl_to, window, from, to};
    attempt_t best;
    for (int64_t p = 0; p < n_persons; p++) {
        person(&f, offsets[p], offsets[p + 1], &best);
        level_out[p] = best.level;
        entry_out[p] = best.entry;
        /* step-major: times_out[k * n_persons + p], so each step's column is contiguous */
        for (int32_t k = 0; k < n_steps; k++) times_out[k * n_persons + p] = best.level ? best.times[k] : NONE;
    }
    return 0;
}

/* out[i] = table[codes[i]] for int16 or int32 codes; code -1 (none) reads table[n_table - 1], the entry
 * kept for it. NumPy's fancy indexing first widens the codes to 64 bits (an 80 MB temporary at 10M rows);
 * this reads them as they are. Codes out of range read the none entry too. */
void sop_lookup16(int64_t n, const int16_t *codes, int64_t n_table, const uint32_t *table, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t c = codes[i];
        out[i] = table[(c < 0 || c >= n_table - 1) ? n_table - 1 : c];
    }
}

void sop_lookup32(int64_t n, const int32_t *codes, int64_t n_table, const uint32_t *table, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t c = codes[i];
        out[i] = table[(c < 0 || c >= n_table - 1) ? n_table - 1 : c];
    }
}
