/* SPDX-License-Identifier: MIT */
/*
 * Where each node's ckptd takes requests from other nodes: a ckptd with a TCP listener and
 * a checkpoint layout writes "tcp://HOST:PORT" to <images_root>/.nodes/<node name>, which
 * every node sees (the layout is shared). A request about a Slurm job that runs on another
 * node is answered with that node's address, which the client then asks with its own munge
 * credential: the node that runs the job decides, seeing the real caller.
 */
#ifndef CKPTD_PEERS_H
#define CKPTD_PEERS_H

/* Publish this node's address (written to a temporary name, then renamed). */
int peers_publish(const char *images_root, const char *node, const char *address);
/* Take it away again at a clean exit (a crashed node's stays: a client then cannot connect). */
void peers_unpublish(const char *images_root, const char *node);
/* The published address of node: 0, -ENOENT, or another negative errno. */
int peers_lookup(const char *images_root, const char *node, char **ret_address);

#endif
