//! `dimension!` and `catalogue!`: the declaration syntax of `catalogue.rs`.

/// Declares a named dimension: an enum whose variants print as the given
/// labels, usable as `field.at(Enum::Variant)`.
macro_rules! dimension {
    (
        $(#[$meta:meta])*
        $ty:ident key $key:literal { $( $variant:ident = $label:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $ty { $( $variant ),+ }

        impl $ty {
            pub const ALL: &'static [$ty] = &[ $( $ty::$variant ),+ ];
            pub const fn label(self) -> &'static str {
                match self { $( $ty::$variant => $label ),+ }
            }
        }

        impl $crate::declare::Dimension for $ty {
            const DESC: &'static $crate::declare::DimDesc = &$crate::declare::DimDesc {
                key: $key,
                labels: $crate::declare::DimLabels::Named(&[ $( $label ),+ ]),
            };
            type Index = $ty;
        }

        impl $crate::declare::DimIndex for $ty {
            fn dim_index(self) -> usize {
                self as usize
            }
        }
    };
}
pub(crate) use dimension;

/// Declares every group. Each group becomes a module holding one [`Field`]
/// constant per field and one [`HistField`] per histogram, plus an entry in
/// the `GROUPS` table that everything else iterates.
macro_rules! catalogue {
    (
        $(
            $group:ident {
                doc: $gdoc:literal,
                cost: $gcost:literal,
                dim: $dim:ty,
                fields { $( $field:ident : $kind:ident = $fdoc:literal ),+ $(,)? }
                hists { $( $hist:ident = $hdoc:literal ),* $(,)? }
            }
        )+
    ) => {
        #[allow(non_camel_case_types, dead_code)]
        #[repr(u8)]
        enum GroupIndex { $( $group ),+ }

        /// Every declared group, in declaration (and wire id) order.
        pub const GROUPS: &[$crate::declare::GroupDesc] = &[
            $(
                $crate::declare::GroupDesc {
                    name: stringify!($group),
                    doc: $gdoc,
                    cost: $gcost,
                    dim: <$dim as $crate::declare::Dimension>::DESC,
                    fields: &[ $(
                        $crate::declare::FieldDesc {
                            name: stringify!($field),
                            kind: $crate::declare::Kind::$kind,
                            doc: $fdoc,
                        }
                    ),+ ],
                    hists: &[ $(
                        $crate::declare::HistDesc { name: stringify!($hist), doc: $hdoc }
                    ),* ],
                }
            ),+
        ];

        $(
            #[doc = $gdoc]
            #[allow(non_upper_case_globals)]
            pub mod $group {
                #[allow(unused_imports)]
                use super::*;
                #[allow(non_camel_case_types, dead_code)]
                #[repr(u8)]
                enum FieldIndex { $( $field ),+ }
                #[allow(non_camel_case_types, dead_code)]
                #[repr(u8)]
                enum HistIndex { $( $hist, )* __End }

                const GROUP: u8 = super::GroupIndex::$group as u8;
                $(
                    #[doc = $fdoc]
                    pub const $field: $crate::declare::Field<$dim> =
                        $crate::declare::Field::new(GROUP, FieldIndex::$field as u8);
                )+
                $(
                    #[doc = $hdoc]
                    pub const $hist: $crate::declare::HistField<$dim> =
                        $crate::declare::HistField::new(GROUP, HistIndex::$hist as u8);
                )*
            }
        )+
    };
}
pub(crate) use catalogue;
