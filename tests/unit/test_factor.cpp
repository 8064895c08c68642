// smallest_factor against trial division on ranges, the tutorial's numbers, and numbers near
// 2^64 whose factorisations come from GNU coreutils `factor` (an independent implementation).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "kernels/factor.hpp"

namespace {

using kernels::smallest_factor;
using u64 = std::uint64_t;

u64 trial_division(u64 n) {
  if (n < 2) return 0;
  for (u64 d = 2; d * d <= n; ++d) {
    if (n % d == 0) return d;
  }
  return 0;
}

TEST(SmallestFactor, SmallCasesAndConvention) {
  EXPECT_EQ(smallest_factor(0), 0u);  // n < 2: no prime factor to report, like the tutorial's None
  EXPECT_EQ(smallest_factor(1), 0u);
  EXPECT_EQ(smallest_factor(2), 0u);  // prime
  EXPECT_EQ(smallest_factor(3), 0u);
  EXPECT_EQ(smallest_factor(4), 2u);
  EXPECT_EQ(smallest_factor(1021), 0u);  // the largest trial prime
  EXPECT_EQ(smallest_factor(1031), 0u);  // the first prime past the trial bound
  EXPECT_EQ(smallest_factor(1031 * 1031), 1031u);
  EXPECT_FALSE(kernels::is_prime(0));
  EXPECT_FALSE(kernels::is_prime(1));
  EXPECT_TRUE(kernels::is_prime(2));
  EXPECT_FALSE(kernels::is_prime(561));  // Carmichael
}

TEST(SmallestFactor, TutorialNumbers) {
  // /usr/bin/python3: trial division, smallest d >= 2 with n % d == 0 below sqrt(n), else None.
  const u64 primes[] = {104729,   1000003,  999983,    1299827,  15485863,
                        49979687, 67867979, 104395303, 982451653};
  for (const u64 n : primes) EXPECT_EQ(smallest_factor(n), 0u) << n;
  EXPECT_EQ(smallest_factor(7919ULL * 7919), 7919u);
}

TEST(SmallestFactor, MatchesTrialDivisionOnRanges) {
  for (u64 n = 0; n < 300'000; ++n) ASSERT_EQ(smallest_factor(n), trial_division(n)) << n;
  // Past the trial bound squared (1024^2) and around 2^32, where Pollard's rho takes over.
  for (u64 n = (u64{1} << 20) - 2000; n < (u64{1} << 20) + 2000; ++n) {
    ASSERT_EQ(smallest_factor(n), trial_division(n)) << n;
  }
  for (u64 n = (u64{1} << 32) - 3000; n < (u64{1} << 32) + 3000; ++n) {
    ASSERT_EQ(smallest_factor(n), trial_division(n)) << n;
  }
  for (u64 n = 1'000'000'000'000ULL; n < 1'000'000'000'000ULL + 2000; ++n) {
    ASSERT_EQ(smallest_factor(n), trial_division(n)) << n;
  }
}

// Generated with /usr/bin/python3 calling coreutils `factor` (smallest factor, 0 when prime):
// the 40 numbers below 2^64, 40 random 64-bit and 10 random 40-bit numbers, products of two
// random 32-bit primes, unbalanced semiprimes, prime cubes and fourth powers, a prime square,
// 2^61 - 1, and 3825123056546413051 (a strong pseudoprime to bases 2..23).
struct Case {
  u64 n;
  u64 smallest;
};
const Case kCases[] = {
    {18446744073709551615u, 3u},
    {18446744073709551614u, 2u},
    {18446744073709551613u, 13u},
    {18446744073709551612u, 2u},
    {18446744073709551611u, 11u},
    {18446744073709551610u, 2u},
    {18446744073709551609u, 3u},
    {18446744073709551608u, 2u},
    {18446744073709551607u, 7u},
    {18446744073709551606u, 2u},
    {18446744073709551605u, 5u},
    {18446744073709551604u, 2u},
    {18446744073709551603u, 3u},
    {18446744073709551602u, 2u},
    {18446744073709551601u, 53u},
    {18446744073709551600u, 2u},
    {18446744073709551599u, 19u},
    {18446744073709551598u, 2u},
    {18446744073709551597u, 3u},
    {18446744073709551596u, 2u},
    {18446744073709551595u, 5u},
    {18446744073709551594u, 2u},
    {18446744073709551593u, 7u},
    {18446744073709551592u, 2u},
    {18446744073709551591u, 3u},
    {18446744073709551590u, 2u},
    {18446744073709551589u, 11u},
    {18446744073709551588u, 2u},
    {18446744073709551587u, 13u},
    {18446744073709551586u, 2u},
    {18446744073709551585u, 3u},
    {18446744073709551584u, 2u},
    {18446744073709551583u, 827u},
    {18446744073709551582u, 2u},
    {18446744073709551581u, 17u},
    {18446744073709551580u, 2u},
    {18446744073709551579u, 3u},
    {18446744073709551578u, 2u},
    {18446744073709551577u, 139646831u},
    {18446744073709551576u, 2u},
    {7988605242735884122u, 2u},
    {9693911944450362507u, 3u},
    {2221413858477308626u, 2u},
    {4604622474873689879u, 13u},
    {14656768834280879799u, 3u},
    {3258598955565208857u, 3u},
    {6319568758862320573u, 73u},
    {13473832928076147804u, 2u},
    {434645778123126354u, 2u},
    {12195635584506828926u, 2u},
    {16340522690162368566u, 2u},
    {8132218641574074014u, 2u},
    {13050740547852001389u, 3u},
    {9174787828927695782u, 2u},
    {792779734539259757u, 61u},
    {9849484429176973804u, 2u},
    {3976714014201539248u, 2u},
    {1764990680449494649u, 31u},
    {3264195396705095932u, 2u},
    {7695631012821088980u, 2u},
    {4793417595878454254u, 2u},
    {3984775819532909826u, 2u},
    {5664057367775418535u, 5u},
    {4677939211127288663u, 25163u},
    {2142121709858696126u, 2u},
    {13029832537011712455u, 3u},
    {5616056978650765467u, 3u},
    {17837116903149149871u, 3u},
    {1773348151106081557u, 7u},
    {11256029119355499329u, 41u},
    {11493706328845192208u, 2u},
    {16195382311964073557u, 47u},
    {12529799059155344597u, 0u},
    {17821399590488759489u, 7u},
    {3836646656281488439u, 13u},
    {11067406875233134221u, 3u},
    {12511314862191448395u, 3u},
    {11945721899035383348u, 2u},
    {8272597486652768443u, 67u},
    {9791210163213690176u, 2u},
    {265024309204u, 2u},
    {806304906919u, 17u},
    {270417650960u, 2u},
    {672047355350u, 2u},
    {1079649453718u, 2u},
    {424277332498u, 2u},
    {547524828901u, 907u},
    {1046944468750u, 2u},
    {886389603202u, 2u},
    {373857042041u, 7u},
    {7199315191748154589u, 2425023011u},
    {11353038943626146947u, 2975300047u},
    {13712253637668495073u, 3667977323u},
    {7728432493068527281u, 2300902063u},
    {9680960971397666393u, 2719277213u},
    {13884575348773926227u, 3356264749u},
    {9303552514282580363u, 2723446403u},
    {15230971645614098987u, 3787216387u},
    {8043741770461191841u, 2591675689u},
    {9624895603730760413u, 2593499101u},
    {8873919887005685987u, 2590703993u},
    {12518876923770512629u, 3211339357u},
    {6613334296794334673u, 1637u},
    {4336859678631670831u, 37003u},
    {5212340865373166243u, 961813u},
    {3242352760736832037u, 11393497u},
    {4023170292330472067u, 201777431u},
    {3892275401808088261u, 1573021u},
    {15497481301651034401u, 62743u},
    {8337752762518806479u, 2027759u},
    {5004196779104551681u, 47297u},
    {5147794946373742781u, 1726661u},
    {5575641580781563201u, 48593u},
    {3032281144808661769u, 1741344637u},
    {1140862222807u, 1031u},
    {1052651u, 1021u},
    {2305843009213693951u, 0u},
    {3825123056546413051u, 149491u},
    {16800704772356552677u, 7u},
    {18446744073709551557u, 0u},  // the largest prime below 2^64
    {1000000016000000063u, 1000000007u},
    {18446743979220271189u, 4294967279u},  // 4294967279 * 4294967291
    {18446744030759878681u, 4294967291u},  // 4294967291^2
};

TEST(SmallestFactor, NumbersNear64BitsAgainstCoreutilsFactor) {
  for (const Case& c : kCases) EXPECT_EQ(smallest_factor(c.n), c.smallest) << c.n;
}

TEST(SmallestFactor, IsADivisorAndPrimeOnRandomInputs) {
  // Structural check on many more inputs: the answer divides n, is prime, and n/answer has no
  // smaller factor.
  u64 x = 0x9E3779B97F4A7C15u;
  for (int t = 0; t < 20000; ++t) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const u64 p = smallest_factor(x);
    if (p == 0) {
      ASSERT_TRUE(kernels::is_prime(x) || x < 2) << x;
      continue;
    }
    ASSERT_EQ(x % p, 0u) << x;
    ASSERT_TRUE(kernels::is_prime(p)) << x;
    const u64 q = smallest_factor(x / p);
    ASSERT_TRUE(q == 0 ? kernels::is_prime(x / p) || x / p == 1 : q >= p) << x;
  }
}

}  // namespace
