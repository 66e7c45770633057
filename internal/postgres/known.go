package postgres

import "sync"

// knownUsers remembers callers whose users row exists, so their requests
// skip the provisioning statement. It is bounded; when full it forgets an
// arbitrary tenth. Forgetting is always safe: it only costs one
// `insert … on conflict do nothing` on the next request.
type knownUsers struct {
	mu  sync.RWMutex
	ids map[string]struct{}
	max int
}

func newKnownUsers(max int) *knownUsers {
	return &knownUsers{ids: make(map[string]struct{}), max: max}
}

func (k *knownUsers) has(id string) bool {
	k.mu.RLock()
	_, ok := k.ids[id]
	k.mu.RUnlock()
	return ok
}

func (k *knownUsers) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ids) >= k.max {
		drop := k.max/10 + 1
		for other := range k.ids {
			delete(k.ids, other)
			if drop--; drop == 0 {
				break
			}
		}
	}
	k.ids[id] = struct{}{}
}

func (k *knownUsers) forget(id string) {
	k.mu.Lock()
	delete(k.ids, id)
	k.mu.Unlock()
}
