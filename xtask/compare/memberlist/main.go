// The memberlist side of `cargo xtask compare`: the same scenarios as the
// swim side (tests/src/bin/compare.rs), on hashicorp/memberlist from
// Debian's package, N members in this one process over loopback UDP.
//
//	memberlist-compare -scenario main -n 32 -seed 1
//	memberlist-compare -scenario loss -n 32 -seed 1
//	memberlist-compare -scenario main -n 128 -seed 1 -pace 50
//
// With -pace, joins come that many milliseconds apart and join_ms counts
// from the last one.
//
// Prints one `key=value` per figure.
package main

import (
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/memberlist"
)

const period = 200 * time.Millisecond

// countingTransport counts sent datagrams and bytes, and drops a share of
// them (the loss scenario).
type countingTransport struct {
	*memberlist.NetTransport
	sent, bytes *uint64
	loss        *uint64 // parts per million, read atomically
	rng         *rand.Rand
	mu          sync.Mutex
}

func (t *countingTransport) drop() bool {
	ppm := atomic.LoadUint64(t.loss)
	if ppm == 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return uint64(t.rng.Int63n(1000000)) < ppm
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddUint64(t.sent, 1)
	atomic.AddUint64(t.bytes, uint64(len(b)))
	if t.drop() {
		return time.Now(), nil
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// events records when each observer declared a node dead (NotifyLeave).
type events struct {
	observer int
	rec      *recorder
}

func (e *events) NotifyJoin(*memberlist.Node)   {}
func (e *events) NotifyUpdate(*memberlist.Node) {}

// NotifyLeave is a dead or left verdict (memberlist 0.2.2 does not say
// which: the Node it passes carries no state). Nobody leaves in these
// scenarios, so every call is a dead verdict.
func (e *events) NotifyLeave(n *memberlist.Node) {
	e.rec.dead(e.observer, n.Name)
}

// suspicions notes when memberlist first marked any node suspect (its
// `memberlist.msg.suspect` counter: memberlist has no suspicion event, and
// the Node states it hands out are not kept up to date).
type suspicions struct {
	metrics.BlackholeSink
	mu    sync.Mutex
	first time.Time
}

func (s *suspicions) IncrCounter(key []string, val float32) {
	s.IncrCounterWithLabels(key, val, nil)
}

func (s *suspicions) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	k := len(key)
	if k >= 3 && key[k-3] == "memberlist" && key[k-2] == "msg" && key[k-1] == "suspect" {
		s.mu.Lock()
		if s.first.IsZero() {
			s.first = time.Now()
		}
		s.mu.Unlock()
	}
}

func (s *suspicions) reset() {
	s.mu.Lock()
	s.first = time.Time{}
	s.mu.Unlock()
}

func (s *suspicions) at() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

type recorder struct {
	mu      sync.Mutex
	verdict map[string]map[int]time.Time // node -> observer -> when declared dead
}

func (r *recorder) dead(observer int, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.verdict[name] == nil {
		r.verdict[name] = map[int]time.Time{}
	}
	if _, ok := r.verdict[name][observer]; !ok {
		r.verdict[name][observer] = time.Now()
	}
}

// cpu is this process's CPU time so far, from the kernel's per-thread
// scheduler statistics (as the swim side measures it).
func cpu() time.Duration {
	tasks, err := ioutil.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		data, err := ioutil.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data))
		if len(fields) > 0 {
			v, _ := strconv.ParseInt(fields[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}

func rssKB() float64 {
	data, err := ioutil.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	pages, _ := strconv.ParseFloat(fields[1], 64)
	return pages * 4 // KiB per page on x86-64 Linux, as the swim side counts
}

func name(i int) string { return fmt.Sprintf("m%03d", i) }

// crashes per run: the detection figures are means over them.
const crashes = 3

func main() {
	scenario := flag.String("scenario", "main", "main or loss")
	n := flag.Int("n", 32, "members")
	seed := flag.Int64("seed", 1, "seed")
	pace := flag.Int("pace", 0, "milliseconds between joins (0: a burst)")
	flag.Parse()
	log.SetOutput(ioutil.Discard)

	var sent, bytes, loss uint64
	rec := &recorder{verdict: map[string]map[int]time.Time{}}
	suspected := &suspicions{}
	mc := metrics.DefaultConfig("compare")
	mc.EnableRuntimeMetrics = false
	mc.EnableHostname = false
	if _, err := metrics.NewGlobal(mc, suspected); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
	baseRSS := rssKB()
	members := make([]*memberlist.Memberlist, *n)
	for i := 0; i < *n; i++ {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0})
		if err != nil {
			fmt.Fprintln(os.Stderr, "transport:", err)
			os.Exit(1)
		}
		c := memberlist.DefaultLANConfig()
		c.Name = name(i)
		c.ProbeInterval = period
		c.ProbeTimeout = period / 2
		c.GossipInterval = period / 2
		c.BindAddr = "127.0.0.1"
		c.AdvertiseAddr = "127.0.0.1"
		c.AdvertisePort = nt.GetAutoBindPort()
		c.BindPort = nt.GetAutoBindPort()
		c.LogOutput = ioutil.Discard
		c.Events = &events{observer: i, rec: rec}
		c.Transport = &countingTransport{NetTransport: nt, sent: &sent, bytes: &bytes, loss: &loss, rng: rand.New(rand.NewSource(*seed*1000 + int64(i)))}
		m, err := memberlist.Create(c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(1)
		}
		members[i] = m
	}
	seedAddr := fmt.Sprintf("127.0.0.1:%d", members[0].LocalNode().Port)
	start := time.Now()
	for i := 1; i < *n; i++ {
		if *pace > 0 && i > 1 {
			time.Sleep(time.Duration(*pace) * time.Millisecond)
		}
		if _, err := members[i].Join([]string{seedAddr}); err != nil {
			fmt.Fprintln(os.Stderr, "join:", err)
			os.Exit(1)
		}
	}
	lastJoin := time.Now()
	converged := func() bool {
		for _, m := range members {
			if m.NumMembers() != *n {
				return false
			}
		}
		return true
	}
	for !converged() {
		if time.Since(start) > 60*time.Second {
			// Reported, not fatal: the figure is that it did not converge.
			counts := map[int]int{}
			for _, m := range members {
				counts[m.NumMembers()]++
			}
			rec.mu.Lock()
			verdicts := 0
			for _, o := range rec.verdict {
				verdicts += len(o)
			}
			rec.mu.Unlock()
			fmt.Fprintf(os.Stderr, "no convergence in 60 s: members counting k live: %v; %d dead verdicts\n", counts, verdicts)
			fmt.Println("not_converged=1")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	if *pace > 0 {
		// Paced: from the last join.
		start = lastJoin
	}
	fmt.Printf("join_ms=%.1f\n", float64(time.Since(start).Microseconds())/1000)
	time.Sleep(10 * period)

	if *scenario == "loss" {
		// 10% of datagrams lost, for 87 periods: any dead verdict is false.
		rec.mu.Lock()
		rec.verdict = map[string]map[int]time.Time{}
		rec.mu.Unlock()
		atomic.StoreUint64(&loss, 100000)
		time.Sleep(87 * period)
		rec.mu.Lock()
		falseVerdicts := 0
		for _, observers := range rec.verdict {
			falseVerdicts += len(observers)
		}
		rec.mu.Unlock()
		fmt.Printf("false_verdicts=%d\n", falseVerdicts)
		return
	}

	// Steady state: CPU, datagrams and bytes per member and period.
	const window = 25
	cpu0, sent0, bytes0 := cpu(), atomic.LoadUint64(&sent), atomic.LoadUint64(&bytes)
	time.Sleep(window * period)
	per := float64(*n * window)
	fmt.Printf("cpu_us=%.1f\n", float64((cpu()-cpu0).Microseconds())/per)
	fmt.Printf("datagrams=%.2f\n", float64(atomic.LoadUint64(&sent)-sent0)/per)
	fmt.Printf("bytes=%.0f\n", float64(atomic.LoadUint64(&bytes)-bytes0)/per)
	fmt.Printf("rss_kb=%.1f\n", (rssKB()-baseRSS)/float64(*n))

	// Crashes, one after another (each once every survivor declared the
	// previous one dead): the figures are means over them.
	periods := func(d time.Duration) float64 { return float64(d) / float64(period) }
	var suspects, firsts, alls []float64
	rec.mu.Lock()
	rec.verdict = map[string]map[int]time.Time{}
	rec.mu.Unlock()
	for k := 0; k < crashes && k < *n-2; k++ {
		victim := *n - 1 - k
		victimName := name(victim)
		suspected.reset()
		killed := time.Now()
		members[victim].Shutdown()
		for time.Since(killed) < 60*time.Second {
			rec.mu.Lock()
			declared := len(rec.verdict[victimName])
			rec.mu.Unlock()
			if declared >= victim {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if at := suspected.at(); !at.IsZero() {
			suspects = append(suspects, periods(at.Sub(killed)))
		}
		rec.mu.Lock()
		var first, last time.Duration = -1, -1
		for _, at := range rec.verdict[victimName] {
			d := at.Sub(killed)
			if first < 0 || d < first {
				first = d
			}
			if d > last {
				last = d
			}
		}
		complete := len(rec.verdict[victimName]) == victim
		rec.mu.Unlock()
		if first >= 0 {
			firsts = append(firsts, periods(first))
		}
		if complete {
			alls = append(alls, periods(last))
		}
	}
	mean := func(v []float64) float64 {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	if len(suspects) > 0 {
		fmt.Printf("first_suspect_periods=%.2f\n", mean(suspects))
	}
	if len(firsts) > 0 {
		fmt.Printf("first_faulty_periods=%.2f\n", mean(firsts))
	}
	if len(alls) > 0 && len(alls) == len(firsts) {
		fmt.Printf("all_faulty_periods=%.2f\n", mean(alls))
	}
}
