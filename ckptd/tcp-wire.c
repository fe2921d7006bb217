/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include "tcp-wire.h"
#include "util.h"

int tcp_wire_split(const char *hostport, char **ret_host, char **ret_port)
{
	const char *colon, *host = hostport, *end;
	uint32_t port;

	if (hostport[0] == '[') { /* RFC 3986's [IPv6]:port */
		host = hostport + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		colon = end + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon || memchr(hostport, ':', (size_t)(colon - hostport)))
			return -EINVAL; /* an IPv6 address without its brackets */
		end = colon;
	}
	/* Port 0 binds any free port (the daemon logs which), but is no address to connect to. */
	if (safe_atou32(colon + 1, &port) < 0 || port > 65535)
		return -EINVAL;
	*ret_host = strndup(host, (size_t)(end - host));
	*ret_port = strdup(colon + 1);
	if (!*ret_host || !*ret_port) {
		free(*ret_host);
		free(*ret_port);
		return -ENOMEM;
	}
	return 0;
}

int tcp_wire_resolve(const char *hostport, bool passive, struct addrinfo **ret)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG)};
	_cleanup_free_ char *host = NULL, *port = NULL;
	int r = tcp_wire_split(hostport, &host, &port);

	if (r < 0)
		return r;
	if (passive && (!*host || !strcmp(host, "*")))
		host[0] = '\0';
	else if (!*host)
		return -EINVAL;
	r = getaddrinfo(*host ? host : NULL, port, &hints, ret);
	if (r == EAI_MEMORY)
		return -ENOMEM;
	if (r == EAI_SYSTEM)
		return -errno;
	return r ? -EADDRNOTAVAIL : 0;
}

void tcp_wire_put_len(uint8_t hdr[CKPTD_FRAME_HDR], uint32_t len)
{
	uint32_t be = htonl(len);

	memcpy(hdr, &be, sizeof(be));
}

uint32_t tcp_wire_get_len(const uint8_t hdr[CKPTD_FRAME_HDR])
{
	uint32_t be;

	memcpy(&be, hdr, sizeof(be));
	return ntohl(be);
}

int tcp_wire_munge_errno(munge_err_t e)
{
	switch (e) {
	case EMUNGE_SUCCESS:
		return 0;
	case EMUNGE_CRED_EXPIRED:
	case EMUNGE_CRED_REWOUND:
		return EKEYEXPIRED;
	case EMUNGE_CRED_REPLAYED:
		return EKEYREJECTED;
	case EMUNGE_SOCKET:
	case EMUNGE_TIMEOUT:
		return EHOSTDOWN;
	case EMUNGE_NO_MEMORY:
		return ENOMEM;
	case EMUNGE_BAD_LENGTH:
		return EMSGSIZE;
	default:
		return EACCES;
	}
}
