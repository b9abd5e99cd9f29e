/*
 * Dirty-node marks: the fan-out's durable record of the nodes that were down
 * past flush_after_down_s and whose purges it let go of (README "Delivery
 * guarantees").  One file, <state_dir>/dirty.json, written with statefile.h
 * (fsync'd, atomic) before any purge is released, so a restart or SIGKILL
 * never forgets that a node missed purges:
 *
 *   {"version": 1, "marks": {"<sink>": {"<node url>": {"flush": true}}}}
 *   {"version": 1, "marks": {"<sink>": {"<node url>": {"tags": ["a", "b"]}}}}
 *
 * A mark is what the node's first request must be once it answers: the
 * sink's flush, or those broad tags.  Owned by the fan-out, loop thread only.
 * Without a state_dir (replay --send, check) there is no set at all.
 */
#ifndef TP_DIRTY_H
#define TP_DIRTY_H

#include <stddef.h>

struct dirty;
struct tagset;

/*
 * Load the marks of state_dir (no file: none).  -1 when the file exists but
 * cannot be read or parsed (logged, naming it): the caller must not start,
 * since it cannot know which nodes missed purges.
 */
int dirty_open(struct dirty **, const char *state_dir);
void dirty_destroy(struct dirty **);
const char *dirty_path(const struct dirty *);
size_t dirty_count(const struct dirty *);

/* 1 when (sink, url) has a mark: *flush, and its tags added to tags (may be NULL). */
int dirty_get(const struct dirty *, const char *sink, const char *url, int *flush,
              struct tagset *tags);
/*
 * Make the mark of (sink, url) exactly flush / tags[0..n) (sorted, distinct;
 * ignored with flush).  The file is rewritten only when the mark changed.
 * 0 when the file holds it (durably), -1 when it could not be written
 * (errno; the set is as before).
 */
int dirty_set(struct dirty *, const char *sink, const char *url, int flush, const char *const *tags,
              size_t n);
/* Drop the mark of (sink, url) if any; 0, or -1 when the file could not be rewritten. */
int dirty_remove(struct dirty *, const char *sink, const char *url);
/*
 * Drop every mark for which keep(arg, sink, url) returns 0, rewriting the
 * file once.  The number dropped, or -1 when the file could not be rewritten.
 */
int dirty_prune(struct dirty *, int (*keep)(void *arg, const char *sink, const char *url),
                void *arg);

#endif
