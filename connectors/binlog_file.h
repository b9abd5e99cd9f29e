/*
 * Binlog files on disk (`tagpurge replay`, broker/cmd_replay.c): the "\xfebin"
 * magic, then each event read whole and handed to bl_feed() in file order.
 * The decoder's position is set to the file's base name at offset 4.  No
 * server, no config, no loop: the caller owns the decoder and its callbacks.
 */
#ifndef TP_BINLOG_FILE_H
#define TP_BINLOG_FILE_H

struct bl_decoder;

/*
 * Feed every event of the file at path to d.  A bad event size or a file
 * ending inside an event is logged and ends the file early (0).  -1 (logged)
 * when the file cannot be opened or is not a binlog file.
 */
int bl_feed_file(struct bl_decoder *d, const char *path);

#endif
