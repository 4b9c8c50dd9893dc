/* The orphan sweep (sweep.c): a thread that asks every provider to
 * terminate machines carrying this mount's id that no live pool owns. */
#ifndef SKY_SWEEP_H
#define SKY_SWEEP_H

/* Records that provider was used in region (STATE/regions), so later
 * sweeps look there. Any thread, no lock held. */
void sweep_note_region(const char *provider, const char *region);
/* One sweep of every provider now; how many machines it terminated. */
int sweep_once(void);
/* The sweeper thread: one sweep at once, then every g.sweep_interval s. */
int sweep_start(void);
/* Joins it (after g.quit_at or g.quitting is set and g.dispatch broadcast). */
void sweep_stop(void);

#endif
