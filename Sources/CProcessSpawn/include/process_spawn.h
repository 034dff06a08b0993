// Thin C shims over glibc's posix_spawn extensions that Swift's Glibc module
// does not export (they need _GNU_SOURCE): closing inherited descriptors and
// changing the child's working directory. Used by OMSStore's ChildProcess.
#ifndef OMS_PROCESS_SPAWN_H
#define OMS_PROCESS_SPAWN_H

#include <spawn.h>

/// Close every descriptor >= `lowest` in the child (posix_spawn_file_actions_addclosefrom_np).
int oms_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

/// Change the child's working directory before exec (posix_spawn_file_actions_addchdir_np).
int oms_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
