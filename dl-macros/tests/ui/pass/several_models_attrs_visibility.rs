//! Several models per invocation, attributes and doc comments passed through, visibility kept,
//! generated code free of warnings (and documented) under strict lints.
#![deny(warnings, unused, missing_docs, missing_debug_implementations)]
//! Crate docs.

mod nets {
    use dl::prelude::*;

    sequential! {
        /// A public model.
        #[derive(Clone, Debug)]
        pub struct Public: [8] -> [2] {
            Dense<4>,
            Tanh,
            Dense<2>,
        }

        /// A crate-visible model.
        #[derive(Debug)]
        pub(crate) struct CrateVisible: [1, 4, 4] -> [4] {
            AvgPool2d<2>,
            Flatten,
        }

        /// A private model used only here.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Private: [3] -> [3] { ReLU }
    }

    /// Uses the private model so it is not dead code.
    pub fn private_params() -> usize {
        Private::PARAMS
    }
}

use dl::Model;
use rand::SeedableRng;

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let a = nets::Public::new(&mut rng);
    let b = a.clone();
    assert!(format!("{b:?}").contains("Public"));
    assert_eq!(nets::Public::PARAMS, 8 * 4 + 4 + 4 * 2 + 2);
    assert_eq!(nets::CrateVisible::OUTPUT_SHAPE, &[4]);
    assert_eq!(<nets::CrateVisible as Model>::NUM_PARAMS, 0);
    assert_eq!(nets::private_params(), 0);
}
