package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
)

// javaParsers prints, for each argument, what Kafka's Utils.getDateTime
// (kafka-consumer-groups --to-datetime) and java.time.Duration.parse
// (--by-duration) make of it: milliseconds, or ERR.
const javaParsers = `import org.apache.kafka.common.utils.Utils;
import java.time.Duration;
public class ResetParsers {
  public static void main(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String dt, d;
      try { dt = Long.toString(Utils.getDateTime(args[i])); } catch (Throwable e) { dt = "ERR"; }
      try { d = Long.toString(Duration.parse(args[i]).toMillis()); } catch (Throwable e) { d = "ERR"; }
      System.out.println(i + "\t" + dt + "\t" + d);
    }
  }
}
`

// TestResetOffsetsParsersMatchKafka runs Kafka's own parsers (the
// kafka-clients jar of scripts/testenv, on the JVM) on the same values as
// mqops': every value both accept means the same instant or duration; a
// value one refuses is either refused by both or listed here with why
// mqops differs.
func TestResetOffsetsParsersMatchKafka(t *testing.T) {
	requireEnv(t, "KAFKA_BROKERS")
	const (
		same     = iota // both accept it, with one meaning, or both refuse it
		refused         // Kafka reads it in a way an operator would not expect: mqops refuses it
		extended        // mqops accepts it, Kafka refuses it
	)
	dates := []struct {
		in  string
		rel int
	}{
		{"2024-01-01T10:00:00.000", same}, {"2024-01-01T10:00:00.123Z", same}, {"2024-01-01T10:00:00.000+05:30", same},
		{"2024-01-01T10:00:00.000-05:00", same}, {"2024-01-01T10:00:00.000+05", same}, {"2024-01-01T10:00:00.000-13:00", same},
		{"2024-01-01T10:00:00.000+14:00", same}, {"2024-1-1T1:2:3.004", same}, {"02024-001-01T010:00:00.000", same},
		{" 2024-01-01T10:00:00.000", same}, {"1970-01-01T00:00:00.000", same}, {"9999-12-31T23:59:59.999", same},
		{"2024-02-29T23:59:59.999-00:00", same}, {"2024-02-30T10:00:00.000", same}, {"2024-01-01T24:00:00.000", same},
		{"2024-01-01T10:00:60.000", same}, {"2024-13-01T10:00:00.000", same}, {"2024-01-01 10:00:00.000", same},
		{"2024-01-01T10:00:00.000z", same}, {"2024-01-01T10:00:00.000+5:30", same}, {"2024-01-01T10:00:00.000-14:00", same},
		{"2024-01-01T10:00:00.5000", same}, {"yesterday", same}, {"", same}, {"2024-01-01T10:00:00,000", same},
		{"2024-01-01T10:00:00", extended},
		{"2024-01-01T10:00:00.5", refused},                                   // Kafka: 5 ms
		{"2024-01-01T10:00:00.000+0530", refused},                            // Kafka: +05:00
		{"2024-01-01T10:00:00.000+14:01", refused},                           // Kafka: +14:00
		{"2024-01-01T10:00:00.000Zjunk", refused},                            // Kafka ignores the rest
		{"1969-12-31T23:59:59.999", refused},                                 // Kafka: -1, ListOffsets' "latest"
		{"0024-01-01T10:00:00.000", refused},                                 // Kafka: the year 24, before 1970
		{"2024-01-01T١٠:00:00.000", refused},                                 // Kafka reads Arabic-Indic digits
		{"2024-01-01T10:00:00.000+05:30:00", refused},                        // Kafka ignores the rest
		{"2024-01-01T10: 00:00.000", refused},                                // Kafka skips the blank
		{"292278994-08-17T07:12:55.807", refused},                            // Kafka: the largest long
		{"1970-01-01T00:00:00.000+00:01", refused},                           // Kafka: -60000
		{"2024-01-01T10:00:00.0000000001", refused},                          // Kafka: 1 ms
		{"2024-01-01T10:00:00.000 +05:00", refused},                          // Kafka skips the blank
		{"2024-01-01T10:00:00.000+05:00Z", refused},                          // Kafka ignores the rest
		{"2024-01-01T10:00:00.000" + "\x1b[2J", same},                        // both refuse (no zone: Kafka appends Z after it)
		{"2024-01-01T10:00:00.000+23:59", same},                              // both refuse
		{"2024-06-01T00:00:00.000-12:00", same},                              //
		{"2038-01-19T03:14:08.000Z", same},                                   // after 2^31 s
		{"2024-01-01T10:00:00.000+00:60", refused},                           // Kafka: +00
		{"2024-01-01T10:00:00.000+055", refused},                             // Kafka: +05
		{"2024-01-01T10:00:00.000-00:00", same},                              //
		{"2024-12-31T23:59:59.999+14:00", same},                              //
		{"2000-02-29T00:00:00.000", same}, {"1900-02-29T00:00:00.000", same}, //
	}
	durations := []struct {
		in  string
		rel int
	}{
		{"PT1H", same}, {"pt1h", same}, {"P1D", same}, {"P1DT2H3M4.5S", same}, {"PT1,5S", same}, {"PT1.S", same},
		{"PT1H-30M", same}, {"-PT-0.5S", same}, {"+PT1H", same}, {"P+1D", same}, {"PT0S", same}, {"PT0.000000001S", same},
		{"PT", same}, {"P", same}, {"P1DT", same}, {"P1W", same}, {"PT1M1H", same}, {"PT1.5H", same}, {"PT1.0000000001S", same},
		{"P1Y", same}, {"PT,5S", same}, {"P-0D", same}, {"P7300D", same}, {"PT36H", same},
		{"-PT1H", refused}, {"PT-1H", refused}, {"P-1DT2H", refused}, // negative: into the future
		{" PT1H", extended}, // mqops trims blanks
	}
	var args []string
	for _, d := range dates {
		args = append(args, d.in)
	}
	for _, d := range durations {
		args = append(args, d.in)
	}
	src := filepath.Join(t.TempDir(), "ResetParsers.java")
	if err := os.WriteFile(src, []byte(javaParsers), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := run(t, 2*time.Minute, nil, filepath.Join(repoRoot(t), "scripts", "testenv"), append([]string{"kafka-class", src}, args...)...)
	if err != nil {
		t.Fatalf("java: %v\n%s", err, stderr)
	}
	java := map[int][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("java line %q", line)
		}
		i, _ := strconv.Atoi(f[0])
		java[i] = [2]string{f[1], f[2]}
	}
	if len(java) != len(args) {
		t.Fatalf("java answered %d of %d", len(java), len(args))
	}
	check := func(in string, rel int, mine string, theirs string) {
		switch {
		case rel == same && mine != theirs:
			t.Errorf("%q: mqops %s, Kafka %s", in, mine, theirs)
		case rel == refused && (mine != "ERR" || theirs == "ERR"):
			t.Errorf("%q: mqops %s, Kafka %s: listed as accepted by Kafka only", in, mine, theirs)
		case rel == extended && (mine == "ERR" || theirs != "ERR"):
			t.Errorf("%q: mqops %s, Kafka %s: listed as accepted by mqops only", in, mine, theirs)
		}
	}
	for i, d := range dates {
		mine := "ERR"
		if ms, err := actions.ParseDateTime(d.in); err == nil {
			mine = strconv.FormatInt(ms, 10)
		}
		check(d.in, d.rel, mine, java[i][0])
	}
	for i, d := range durations {
		mine := "ERR"
		if v, err := actions.ParseResetDuration(d.in); err == nil {
			mine = strconv.FormatInt(v.Milliseconds(), 10)
		}
		check(d.in, d.rel, mine, java[len(dates)+i][1])
	}
	// and Go durations mean what the same ISO duration means to Kafka
	for _, p := range [][2]string{{"90m", "PT90M"}, {"1h30m15.5s", "PT1H30M15.5S"}, {"48h", "P2D"}} {
		g, err1 := actions.ParseResetDuration(p[0])
		j, err2 := actions.ParseResetDuration(p[1])
		if err1 != nil || err2 != nil || g != j {
			t.Errorf("%s = %v (%v), %s = %v (%v)", p[0], g, err1, p[1], j, err2)
		}
	}
}
