# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors

# registry_forwarders: only the listed identities (the nsmgrs) may register or
# unregister on behalf of another identity; every other caller acts only for
# itself.
#
# Why: the registry takes the owner of a name from the token in path[0], which
# it cannot verify when the call came through an nsmgr (it only has the
# nsmgr's certificate). Any caller could otherwise put a token naming another
# identity in front of its own and pass for a forwarder. The native
# caller_token_signed policy binds the caller's own token (at index - 1) to
# its certificate; this policy says whose forwarding the registry believes.
#
# data.registry_forwarders (registry_forwarders.json beside this file) lists
# SPIFFE ID prefixes. Use with NSM_REGISTRY_SERVER_POLICIES on the registry.
package nsm

caller := payload.sub if {
	[_, payload, _] := io.jwt.decode(input.path_segments[input.index - 1].token)
}

default valid := false

# The registrant called this hop itself: path = [registrant, this hop].
valid if input.index <= 1

valid if {
	some prefix in data.registry_forwarders
	startswith(caller, prefix)
}

reason := sprintf("%s may register only for itself, not forward for %s (data.registry_forwarders)", [caller, input.resource_id])
