package memory

// deque is a double-ended queue of entries in a ring buffer whose size is a power
// of two. The zero value is empty and ready to use.
type deque struct {
	buf  []entry
	head int
	n    int
}

func (d *deque) len() int { return d.n }

func (d *deque) pushBack(e entry) {
	d.grow()
	d.buf[(d.head+d.n)&(len(d.buf)-1)] = e
	d.n++
}

func (d *deque) pushFront(e entry) {
	d.grow()
	d.head = (d.head - 1) & (len(d.buf) - 1)
	d.buf[d.head] = e
	d.n++
}

// popFront removes and returns the first entry; the deque must not be empty.
func (d *deque) popFront() entry {
	e := d.buf[d.head]
	d.buf[d.head] = entry{} // let the message be collected
	d.head = (d.head + 1) & (len(d.buf) - 1)
	d.n--
	if len(d.buf) > 1024 && d.n < len(d.buf)/4 {
		d.resize(len(d.buf) / 2)
	}
	return e
}

func (d *deque) grow() {
	if d.n < len(d.buf) {
		return
	}
	d.resize(max(16, 2*len(d.buf)))
}

func (d *deque) resize(size int) {
	buf := make([]entry, size)
	for i := 0; i < d.n; i++ {
		buf[i] = d.buf[(d.head+i)&(len(d.buf)-1)]
	}
	d.buf, d.head = buf, 0
}
