# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors

# allowed_clients: a network service endpoint accepts only the clients whose
# SPIFFE ID is on a list.
#
# The list is the data document allowed_clients.json beside this file
# ({"allowed_clients": ["spiffe://..."]}); edit it, or copy both files and
# point NSM_AUTHORIZE_POLICIES at the copy.
#
# The client is the workload that started the connection: the sub of the
# token in the first path segment. The endpoint does not verify that token
# itself: every hop on the way checked the token of the hop before it
# against that hop's certificate, and the native tokens_chained policy ties
# the tokens together.
package nsm

client_id := payload.sub if {
	[_, payload, _] := io.jwt.decode(input.path_segments[0].token)
}

default valid := false

valid if client_id in data.allowed_clients

reason := msg if {
	msg := sprintf("client %s is not on the allowed list (data.allowed_clients)", [client_id])
} else := "the first path segment carries no client token, so the client is unknown"
